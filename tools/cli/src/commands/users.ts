// sovren users list | create | promote, and sovren admin create: local users, without any OAuth provider.
import type { Command } from 'commander';
import {
  AUTH_ADMIN_USERS_CREATE,
  AUTH_ADMIN_USERS_LIST,
  AUTH_ADMIN_USERS_PROMOTE,
  AUTH_ROLES,
  type AdminUserV1,
  type AuthAdminUserReplyV1,
  type AuthAdminUsersListReplyV1,
  type AuthRole,
} from '@sovren/messaging';

import { CliError, EXIT } from '../cli-error';
import { withPlatform } from '../command-context';
import type { Output } from '../output';

function role(value: string): AuthRole {
  if (!(AUTH_ROLES as readonly string[]).includes(value)) {
    throw new CliError(`--role must be one of ${AUTH_ROLES.join(', ')} (got "${value}")`, EXIT.USAGE);
  }
  return value as AuthRole;
}

function printUser(output: Output, verb: string, user: AdminUserV1): void {
  output.result({ user }, () => output.line(`${verb} ${user.email ?? user.id} (id ${user.id}, role ${user.role})`));
}

async function createUser(command: Command, email: string, name: string | undefined, userRole: AuthRole) {
  await withPlatform(command, async (client, output) => {
    const payload = { v: 1, email, role: userRole, ...(name ? { displayName: name } : {}) };
    const { user } = await client.request<AuthAdminUserReplyV1>(AUTH_ADMIN_USERS_CREATE, payload);
    printUser(output, 'created', user);
  });
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('local users: list, create, promote');

  users
    .command('list')
    .description('list every user')
    .action(async (_options: unknown, command: Command) => {
      await withPlatform(command, async (client, output) => {
        const reply = await client.request<AuthAdminUsersListReplyV1>(AUTH_ADMIN_USERS_LIST, { v: 1 });
        output.result(reply, () =>
          output.table(
            ['ID', 'EMAIL', 'NAME', 'ROLE'],
            reply.users.map((u) => [u.id, u.email ?? '', u.displayName, u.role]),
          ),
        );
      });
    });

  users
    .command('create')
    .description('create a local user (no OAuth provider needed)')
    .requiredOption('--email <email>', "the user's email address")
    .option('--name <name>', 'display name (default: the part of the email before @)')
    .option('--role <role>', `${AUTH_ROLES.join(' or ')}`, 'user')
    .action(async (options: { email: string; name?: string; role: string }, command: Command) => {
      await createUser(command, options.email, options.name, role(options.role));
    });

  users
    .command('promote <user>')
    .description('make a user (id or email) an admin, or with --role user take it back')
    .option('--role <role>', `${AUTH_ROLES.join(' or ')}`, 'admin')
    .action(async (user: string, options: { role: string }, command: Command) => {
      const wanted = role(options.role);
      await withPlatform(command, async (client, output) => {
        const reply = await client.request<AuthAdminUserReplyV1>(AUTH_ADMIN_USERS_PROMOTE, {
          v: 1,
          user,
          role: wanted,
        });
        printUser(output, 'role set:', reply.user);
      });
    });

  program
    .command('admin')
    .description('the first admin of a fresh install')
    .command('create')
    .description('create a local admin (no OAuth provider needed); then mint a key with sovren keys create')
    .requiredOption('--email <email>', "the admin's email address")
    .option('--name <name>', 'display name')
    .action(async (options: { email: string; name?: string }, command: Command) => {
      await createUser(command, options.email, options.name, 'admin');
    });
}
