// sovren keys create | list | revoke: API keys minted by auth's own code (hashed, shown once).
import type { Command } from 'commander';
import {
  AUTH_ADMIN_KEYS_CREATE,
  AUTH_ADMIN_KEYS_LIST,
  AUTH_ADMIN_KEYS_REVOKE,
  type AdminApiKeyV1,
  type AuthAdminKeyReplyV1,
  type AuthAdminKeysCreateReplyV1,
  type AuthAdminKeysCreateRequestV1,
  type AuthAdminKeysListReplyV1,
} from '@sovren/messaging';

import { CliError, EXIT } from '../cli-error';
import { withPlatform } from '../command-context';
import type { Output } from '../output';

/** What `keys create` gives when --scopes is left out: calling the models, nothing more. */
export const DEFAULT_KEY_SCOPES = ['inference:generate'];

interface CreateOptions {
  user: string;
  scopes?: string;
  name: string;
  premium?: boolean;
  expires?: string;
  ratePerHour?: string;
}

function keyState(key: AdminApiKeyV1, now = Date.now()): string {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

function keyTable(output: Output, keys: AdminApiKeyV1[]): void {
  output.table(
    ['ID', 'PREFIX', 'USER', 'NAME', 'SCOPES', 'TIER', 'STATE', 'LAST USED'],
    keys.map((k) => [k.id, k.prefix, k.userId, k.name, k.scopes.join(','), k.tier, keyState(k), k.lastUsedAt ?? '']),
    (column, cell) => {
      if (column !== 6) return cell;
      return cell.trim() === 'active' ? output.colour.green(cell) : output.colour.dim(cell);
    },
  );
}

export function buildCreateRequest(options: CreateOptions): AuthAdminKeysCreateRequestV1 {
  const scopes = (options.scopes ?? DEFAULT_KEY_SCOPES.join(','))
    .split(',')
    .map((scope) => scope.trim())
    .filter((scope) => scope.length > 0);
  if (scopes.length === 0) throw new CliError('--scopes needs at least one scope, e.g. inference:generate', EXIT.USAGE);
  const request: AuthAdminKeysCreateRequestV1 = { v: 1, user: options.user, name: options.name, scopes };
  if (options.premium) request.tier = 'premium';
  if (options.expires !== undefined) {
    const at = Date.parse(options.expires);
    if (Number.isNaN(at)) throw new CliError(`--expires must be a date, e.g. 2030-01-31 (got "${options.expires}")`);
    request.expiresAt = new Date(at).toISOString();
  }
  if (options.ratePerHour !== undefined) {
    const rate = Number(options.ratePerHour);
    if (!Number.isInteger(rate) || rate < 1) {
      throw new CliError(`--rate-per-hour must be a positive integer (got "${options.ratePerHour}")`, EXIT.USAGE);
    }
    request.rateLimitPerHour = rate;
  }
  return request;
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys: create, list, revoke');

  keys
    .command('create')
    .description('mint an API key for a user; the key is printed once and stored only as a hash')
    .requiredOption('--user <user>', 'owner of the key (id or email)')
    .option('--scopes <list>', `comma-separated scopes (default ${DEFAULT_KEY_SCOPES.join(',')})`)
    .option('--name <name>', 'a name to recognise the key by', 'cli')
    .option('--premium', 'the premium tier (higher rate limits)')
    .option('--expires <date>', 'expiry, e.g. 2030-01-31 or an ISO 8601 time (default: never)')
    .option('--rate-per-hour <n>', "the key's own hourly request limit")
    .action(async (options: CreateOptions, command: Command) => {
      const request = buildCreateRequest(options);
      await withPlatform(command, async (client, output) => {
        const reply = await client.request<AuthAdminKeysCreateReplyV1>(AUTH_ADMIN_KEYS_CREATE, request);
        output.result(reply, () => {
          output.line(output.colour.bold(reply.key));
          output.line();
          output.line(
            `API key ${reply.apiKey.prefix}… (id ${reply.apiKey.id}) for user ${reply.apiKey.userId}, ` +
              `scopes ${reply.apiKey.scopes.join(', ')}, tier ${reply.apiKey.tier}`,
          );
          output.line(output.colour.yellow('This is the only time the key is shown: store it now.'));
        });
      });
    });

  keys
    .command('list')
    .description("list API keys (prefixes, never the keys), of one user or everyone's")
    .option('--user <user>', 'only this user (id or email)')
    .action(async (options: { user?: string }, command: Command) => {
      await withPlatform(command, async (client, output) => {
        const reply = await client.request<AuthAdminKeysListReplyV1>(AUTH_ADMIN_KEYS_LIST, {
          v: 1,
          ...(options.user ? { user: options.user } : {}),
        });
        output.result(reply, () => keyTable(output, reply.keys));
      });
    });

  keys
    .command('revoke <id>')
    .description('revoke an API key: it stops working at once on every service')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withPlatform(command, async (client, output) => {
        const reply = await client.request<AuthAdminKeyReplyV1>(AUTH_ADMIN_KEYS_REVOKE, { v: 1, id });
        output.result(reply, () => output.line(`revoked ${reply.apiKey.prefix}… (id ${reply.apiKey.id})`));
      });
    });
}
