// The CLI's NATS connection: connects as the `cli` user (replies in its own inbox `_INBOX.cli`), sends one request
// at a time and turns every failure into a CliError an operator can act on.
import { ERROR_REPLY_HEADER, type ErrorReply } from '@sovren/messaging';
import { connect, ErrorCode, JSONCodec, NatsError, type NatsConnection } from 'nats';

import { CliError, EXIT } from './cli-error';
import type { PlatformLocation } from './platform-locator';

const codec = JSONCodec<unknown>();

function isErrorReply(body: unknown): body is ErrorReply {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string';
}

/** Which service answers a subject, for the "not running" message. */
function serviceOf(subject: string): string {
  return subject.split('.')[0] ?? subject;
}

export class OperatorClient {
  private constructor(
    private readonly connection: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  static async connect(location: PlatformLocation, timeoutMs: number): Promise<OperatorClient> {
    try {
      const connection = await connect({
        servers: location.natsUrl,
        name: 'sovren-cli',
        timeout: Math.min(timeoutMs, 5_000),
        reconnect: false,
        inboxPrefix: '_INBOX.cli',
        ...(location.credentials ?? {}),
      });
      return new OperatorClient(connection, timeoutMs);
    } catch (error) {
      const code = (error as NatsError).code;
      if (code === ErrorCode.AuthorizationViolation) {
        throw new CliError(
          `NATS at ${location.natsUrl} refused the CLI's credentials (${location.credentials ? `user ${location.credentials.user}` : 'no user'}): ` +
            'are they the ones this platform was configured with?',
          EXIT.NO_ACCESS,
          'NATS_AUTHORIZATION',
        );
      }
      throw new CliError(
        `the platform is not running: no NATS at ${location.natsUrl} (${(error as Error).message}). ` +
          'Start it with npm start (development) or systemctl start sovren.target',
        EXIT.NOT_RUNNING,
        'NOT_RUNNING',
      );
    }
  }

  /** One request; `parse` checks the reply against its contract. */
  async request<T>(
    subject: string,
    payload: unknown,
    options: { timeoutMs?: number; parse?: (raw: unknown) => T } = {},
  ): Promise<T> {
    const timeout = options.timeoutMs ?? this.timeoutMs;
    let reply;
    try {
      reply = await this.connection.request(subject, codec.encode(payload), { timeout });
    } catch (error) {
      const code = (error as NatsError).code;
      if (code === ErrorCode.NoResponders) {
        throw new CliError(
          `the ${serviceOf(subject)} service is not running (nobody answers ${subject} on NATS)`,
          EXIT.NOT_RUNNING,
          'NOT_RUNNING',
        );
      }
      if (code === ErrorCode.Timeout) {
        throw new CliError(
          `no answer on ${subject} within ${timeout} ms: is the ${serviceOf(subject)} service healthy?`,
          EXIT.NOT_RUNNING,
          'TIMEOUT',
        );
      }
      if (code === ErrorCode.PermissionsViolation) {
        throw new CliError(`NATS does not let this user send ${subject}`, EXIT.NO_ACCESS, 'NATS_PERMISSIONS');
      }
      throw new CliError(`request on ${subject} failed: ${(error as Error).message}`, EXIT.FAILED);
    }
    let body: unknown;
    try {
      body = codec.decode(reply.data);
    } catch (error) {
      throw new CliError(`the answer on ${subject} is not JSON: ${(error as Error).message}`);
    }
    if (reply.headers?.has(ERROR_REPLY_HEADER) && isErrorReply(body)) {
      throw new CliError(body.error.message, EXIT.FAILED, body.error.code);
    }
    try {
      return options.parse ? options.parse(body) : (body as T);
    } catch (error) {
      throw new CliError(`unexpected answer on ${subject}: ${(error as Error).message}`, EXIT.FAILED, 'BAD_REPLY');
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
