// The one NATS connection of a service: JSON request/reply with timeouts, publish/subscribe, JetStream access,
// connection status for readiness, and a drain for shutdown.
//
// Start-up choice: connect() never fails because NATS is unreachable. It tries once, and if that fails it keeps
// retrying in the background (and the nats client itself reconnects forever once connected). The service starts,
// reports not-ready (status() !== 'connected') so /health/ready answers 503 naming NATS, and recovers on its own
// when NATS comes back — a systemd restart loop would only add noise. Responders and subscriptions registered
// before the connection exists are attached as soon as it does.

import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { errorMessage, retry } from '@sovren/resilience';
import {
  connect,
  createInbox,
  ErrorCode,
  headers as natsHeaders,
  NatsError,
  JSONCodec,
  type JetStreamClient,
  type JetStreamManager,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type PubAck,
  type Subscription,
} from 'nats';
import { ERROR_REPLY_HEADER, isErrorReply, toErrorReply } from './error-reply';
import { RequestMux } from './request-mux';
import {
  BadReplyError,
  MessagingError,
  MessagingTimeoutError,
  MessagingUnavailableError,
  NoRespondersError,
  RemoteError,
} from './messaging.errors';

export const NATS_CLIENT_OPTIONS = Symbol('NATS_CLIENT_OPTIONS');

export interface NatsClientOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222` (comma-separated for several). */
  servers: string;
  /** Connection name shown by the NATS server (monitoring), e.g. `sovren-auth`. */
  name: string;
  /** Default request timeout (ms). */
  requestTimeoutMs?: number;
  /** Timeout of one connection attempt (ms). */
  connectTimeoutMs?: number;
  /** Delay between start-up connection attempts while NATS is unreachable (ms). */
  retryDelayMs?: number;
  /** How long drain() waits for in-flight messages before closing hard (ms). */
  drainTimeoutMs?: number;
  /** NATS user and password (tools/nats generates one user per service); both absent: anonymous. */
  user?: string;
  pass?: string;
  /**
   * Prefix of this connection's reply subjects (default `_INBOX`). Per-service prefixes (`_INBOX.auth`) let the
   * server's permissions give each service only its own replies.
   */
  inboxPrefix?: string;
}

/** The options with their defaults filled in; credentials and the inbox prefix stay optional. */
type ResolvedOptions = Required<Omit<NatsClientOptions, 'user' | 'pass' | 'inboxPrefix'>> &
  Pick<NatsClientOptions, 'user' | 'pass' | 'inboxPrefix'>;

export type NatsConnectionStatus = 'connected' | 'reconnecting' | 'closed';

export interface MessageContext {
  subject: string;
  /** Message headers, first value of each. */
  headers: Record<string, string>;
}

export interface RequestOptions<TRes> {
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Contract validator for the reply (e.g. parsePingReplyV1); without it the reply is trusted as TRes. */
  parse?: (raw: unknown) => TRes;
}

export interface HandlerOptions<TReq> {
  /** Queue group: one member of the group gets each message (load balancing between instances). */
  queue?: string;
  /** Contract validator for the incoming payload; a ContractError becomes an INVALID_PAYLOAD error reply. */
  parse?: (raw: unknown) => TReq;
}

export interface PublishOptions {
  headers?: Record<string, string>;
}

/** Handle returned by respond()/subscribe(). */
export interface MessagingSubscription {
  readonly subject: string;
  unsubscribe(): void;
}

export interface MessagingHealthCheck {
  name: 'nats';
  ok: boolean;
  error?: string;
}

interface Registration {
  subject: string;
  queue?: string;
  onMessage: (msg: Msg) => void;
  active: boolean;
  subscription?: Subscription;
}

const codec = JSONCodec<unknown>();

function toHeaders(values: Record<string, string> | undefined): MsgHdrs | undefined {
  if (!values || Object.keys(values).length === 0) return undefined;
  const result = natsHeaders();
  for (const [key, value] of Object.entries(values)) result.set(key, value);
  return result;
}

function fromHeaders(values: MsgHdrs | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!values) return result;
  for (const key of values.keys()) result[key] = values.get(key);
  return result;
}

@Injectable()
export class NatsClient {
  private readonly logger = new Logger(NatsClient.name);
  private readonly options: ResolvedOptions;
  private connection: NatsConnection | undefined;
  /** Request/reply for the current connection. */
  private mux: RequestMux | undefined;
  private state: NatsConnectionStatus = 'reconnecting';
  private lastError: string | undefined = 'not connected yet';
  private firstAttempt: Promise<void> | undefined;
  /** Aborted by drain(): no further connection attempt. */
  private readonly stopConnecting = new AbortController();
  private drainPromise: Promise<void> | undefined;
  private readonly registrations = new Set<Registration>();
  private readonly connectHooks: Array<(client: NatsClient) => Promise<void> | void> = [];
  private connectedWaiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(@Optional() @Inject(NATS_CLIENT_OPTIONS) options: NatsClientOptions) {
    if (!options || typeof options.servers !== 'string' || options.servers.trim() === '') {
      throw new Error('NatsClient needs options.servers (the NATS URL, e.g. nats://127.0.0.1:4222)');
    }
    // Options given as undefined (e.g. an unset environment variable) keep their defaults.
    const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    this.options = {
      requestTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      retryDelayMs: 1_000,
      drainTimeoutMs: 5_000,
      ...given,
    } as ResolvedOptions;
  }

  /**
   * Makes the first connection attempt and resolves once it has succeeded or failed; on failure retries
   * continue in the background (see the file comment). Safe to call more than once.
   */
  connect(): Promise<void> {
    if (this.drainPromise) {
      return Promise.reject(new MessagingUnavailableError('(connect)', 'drained'));
    }
    this.firstAttempt ??= this.startConnecting();
    return this.firstAttempt;
  }

  /** Resolves when connected (immediately if already); rejects if the client is drained first. */
  whenConnected(): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    if (this.drainPromise) return Promise.reject(new MessagingUnavailableError('(connect)', 'drained'));
    return new Promise((resolve, reject) => this.connectedWaiters.push({ resolve, reject }));
  }

  /** Runs `hook` after every (re)connection, e.g. to ensure JetStream streams. Errors are logged. */
  onConnect(hook: (client: NatsClient) => Promise<void> | void): void {
    this.connectHooks.push(hook);
    if (this.state === 'connected') void this.runHook(hook);
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  status(): NatsConnectionStatus {
    return this.state;
  }

  /** Readiness entry for this connection, in the same shape as DatabaseHealth's. */
  check(): MessagingHealthCheck {
    if (this.state === 'connected') return { name: 'nats', ok: true };
    return { name: 'nats', ok: false, error: `NATS ${this.state}${this.lastError ? `: ${this.lastError}` : ''}` };
  }

  /** Sends a request and waits for the reply; throws MessagingTimeoutError, NoRespondersError or RemoteError. */
  async request<TReq, TRes>(subject: string, payload: TReq, options: RequestOptions<TRes> = {}): Promise<TRes> {
    const mux = this.requireMux(subject);
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    let reply: Msg;
    try {
      reply = await mux.request(subject, codec.encode(payload ?? null), toHeaders(options.headers), timeoutMs);
    } catch (error) {
      throw this.translateRequestError(error, subject, timeoutMs);
    }
    let decoded: unknown;
    try {
      decoded = codec.decode(reply.data);
    } catch (error) {
      throw new BadReplyError(subject, { cause: error });
    }
    if (reply.headers?.has(ERROR_REPLY_HEADER) && isErrorReply(decoded)) {
      throw new RemoteError(subject, decoded.error.code, decoded.error.message);
    }
    return options.parse ? options.parse(decoded) : (decoded as TRes);
  }

  /**
   * Answers requests on `subject`. Whatever the handler throws becomes an error reply
   * `{ error: { code, message } }` (request() turns it into a RemoteError); it never reaches the process.
   */
  respond<TReq, TRes>(
    subject: string,
    handler: (payload: TReq, context: MessageContext) => Promise<TRes> | TRes,
    options: HandlerOptions<TReq> = {},
  ): MessagingSubscription {
    return this.register(subject, options.queue, (msg) => {
      void this.answer(msg, handler, options.parse);
    });
  }

  /** Receives fire-and-forget messages on `subject` (wildcards allowed). Handler errors are logged. */
  subscribe<T>(
    subject: string,
    handler: (payload: T, context: MessageContext) => Promise<void> | void,
    options: HandlerOptions<T> = {},
  ): MessagingSubscription {
    return this.register(subject, options.queue, (msg) => {
      void this.deliver(msg, handler, options.parse);
    });
  }

  /** A fresh reply subject under this connection's inbox prefix (streamed replies: see stream-request.ts). */
  inbox(): string {
    return createInbox(this.options.inboxPrefix);
  }

  /** Fire-and-forget publish. While reconnecting the nats client buffers the message and sends it on reconnect. */
  publish<T>(subject: string, payload: T, options: PublishOptions = {}): void {
    const connection = this.requireConnection(subject);
    connection.publish(subject, codec.encode(payload ?? null), { headers: toHeaders(options.headers) });
  }

  /**
   * Publishes to a JetStream stream and waits for the stream's acknowledgement. `msgID` makes retries safe:
   * the stream drops a second message with the same id inside its duplicate window (ack.duplicate is true).
   */
  async publishToStream<T>(
    subject: string,
    payload: T,
    options: { msgID?: string; timeoutMs?: number } = {},
  ): Promise<PubAck> {
    const js = this.jetstream();
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    try {
      return await js.publish(subject, codec.encode(payload ?? null), { msgID: options.msgID, timeout: timeoutMs });
    } catch (error) {
      throw this.translateRequestError(error, subject, timeoutMs);
    }
  }

  jetstream(): JetStreamClient {
    return this.requireConnection('(jetstream)').jetstream();
  }

  jetstreamManager(): Promise<JetStreamManager> {
    return this.requireConnection('(jetstream manager)').jetstreamManager();
  }

  /** The raw connection, for the rare feature this class does not wrap. */
  rawConnection(): NatsConnection | undefined {
    return this.connection;
  }

  /**
   * Stops retrying, lets in-flight messages finish, then closes. Idempotent: every call returns the same promise.
   * Never rejects: failures are logged and the connection is closed hard.
   */
  drain(): Promise<void> {
    this.drainPromise ??= this.doDrain();
    return this.drainPromise;
  }

  private async doDrain(): Promise<void> {
    this.stopConnecting.abort(new MessagingUnavailableError('(connect)', 'drained'));
    const waiters = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const waiter of waiters) waiter.reject(new MessagingUnavailableError('(connect)', 'drained'));
    const connection = this.connection;
    if (connection && !connection.isClosed()) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), this.options.drainTimeoutMs);
        });
        const outcome = await Promise.race([connection.drain().then(() => 'drained' as const), timeout]);
        if (outcome === 'timeout') {
          this.logger.warn(`NATS drain did not finish within ${this.options.drainTimeoutMs} ms; closing`);
          await connection.close();
        }
      } catch (error) {
        this.logger.error(`NATS drain failed (${errorMessage(error)}); closing the connection`);
        await connection.close().catch((closeError: unknown) => {
          this.logger.error(`NATS close after failed drain also failed: ${errorMessage(closeError)}`);
        });
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
    this.state = 'closed';
    this.lastError = 'drained';
    this.mux?.close('drained');
    this.mux = undefined;
  }

  private async attempt(): Promise<void> {
    try {
      const connection = await connect({
        servers: this.options.servers.split(',').map((server) => server.trim()),
        name: this.options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: this.options.retryDelayMs,
        timeout: this.options.connectTimeoutMs,
        user: this.options.user,
        pass: this.options.pass,
        inboxPrefix: this.options.inboxPrefix,
        // No Error (stack capture) per call for a failure that rarely happens (requests go through RequestMux;
        // this covers JetStream publishes and the rest). Our errors name the subject themselves.
        noAsyncTraces: true,
      });
      if (this.drainPromise) {
        // drain() was called while this attempt was in flight: do not keep a connection nobody will close.
        await connection.close();
        return;
      }
      this.adopt(connection);
    } catch (error) {
      this.lastError = errorMessage(error);
      throw error;
    }
  }

  /**
   * Connects, retrying every retryDelayMs in the background until connected or drained; resolves once the first
   * attempt is over, successful or not.
   */
  private startConnecting(): Promise<void> {
    return new Promise<void>((firstOver) => {
      retry(() => this.attempt(), {
        initialMs: this.options.retryDelayMs,
        maxMs: this.options.retryDelayMs,
        jitter: 'none',
        signal: this.stopConnecting.signal,
        // The retry timer alone must not keep a process alive (e.g. a CLI that gave up on NATS).
        unref: true,
        onRetry: (_error, attempt) => {
          // Warn on the first failure and then about once a minute, not on every retry.
          if ((attempt - 1) % Math.max(1, Math.round(60_000 / this.options.retryDelayMs)) === 0) {
            this.logger.warn(
              `NATS at ${this.options.servers} is unreachable (${this.lastError}); retrying every ${this.options.retryDelayMs} ms`,
            );
          }
          firstOver();
        },
      }).then(
        () => firstOver(),
        // Only drain() ends the retries (it rejects every waiter itself).
        () => firstOver(),
      );
    });
  }

  private adopt(connection: NatsConnection): void {
    this.mux?.close('connection replaced');
    this.connection = connection;
    this.mux = new RequestMux(connection, (message) => this.logger.error(message), this.options.inboxPrefix);
    this.state = 'connected';
    this.lastError = undefined;
    this.logger.log(`Connected to NATS at ${connection.getServer()} as ${this.options.name}`);
    for (const registration of this.registrations) this.attach(registration, connection);
    void this.watchStatus(connection);
    void connection.closed().then((error) => this.onClosed(connection, error));
    this.onUp();
  }

  private onUp(): void {
    const waiters = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const waiter of waiters) waiter.resolve();
    for (const hook of this.connectHooks) void this.runHook(hook);
  }

  private async runHook(hook: (client: NatsClient) => Promise<void> | void): Promise<void> {
    try {
      await hook(this);
    } catch (error) {
      this.logger.error(`NATS on-connect task failed: ${errorMessage(error)}`);
    }
  }

  private async watchStatus(connection: NatsConnection): Promise<void> {
    try {
      for await (const event of connection.status()) {
        if (this.connection !== connection || this.drainPromise) continue;
        switch (event.type) {
          case 'disconnect':
            this.state = 'reconnecting';
            this.lastError = `disconnected from ${String(event.data)}`;
            this.logger.warn(`NATS connection lost (${String(event.data)}); reconnecting`);
            break;
          case 'reconnecting':
            this.state = 'reconnecting';
            break;
          case 'reconnect':
            this.state = 'connected';
            this.lastError = undefined;
            this.logger.log(`Reconnected to NATS at ${String(event.data)}`);
            this.onUp();
            break;
          case 'error':
            this.logger.error(`NATS asynchronous error: ${String(event.data)}`);
            break;
          case 'ldm':
            this.logger.warn('NATS server entered lame duck mode; the client will move to another server');
            break;
          default:
            break;
        }
      }
    } catch (error) {
      this.logger.error(`NATS status watcher stopped: ${errorMessage(error)}`);
    }
  }

  private onClosed(connection: NatsConnection, error: void | Error): void {
    if (this.connection !== connection) return;
    if (this.drainPromise) {
      this.state = 'closed';
      return;
    }
    // Closed without drain(): a fatal error (e.g. authorisation). Start over rather than stay dead.
    this.state = 'reconnecting';
    this.lastError = error ? errorMessage(error) : 'connection closed';
    this.connection = undefined;
    this.mux?.close(this.lastError);
    this.mux = undefined;
    for (const registration of this.registrations) registration.subscription = undefined;
    this.logger.error(`NATS connection closed unexpectedly (${this.lastError}); connecting again`);
    void this.startConnecting();
  }

  private register(subject: string, queue: string | undefined, onMessage: (msg: Msg) => void): MessagingSubscription {
    const registration: Registration = { subject, queue, onMessage, active: true };
    this.registrations.add(registration);
    if (this.connection && !this.connection.isClosed()) this.attach(registration, this.connection);
    return {
      subject,
      unsubscribe: () => {
        registration.active = false;
        this.registrations.delete(registration);
        registration.subscription?.unsubscribe();
      },
    };
  }

  private attach(registration: Registration, connection: NatsConnection): void {
    registration.subscription = connection.subscribe(registration.subject, {
      queue: registration.queue,
      callback: (error, msg) => {
        if (error) {
          this.logger.error(`NATS subscription on "${registration.subject}" failed: ${error.message}`);
          return;
        }
        if (registration.active) registration.onMessage(msg);
      },
    });
  }

  private async answer<TReq, TRes>(
    msg: Msg,
    handler: (payload: TReq, context: MessageContext) => Promise<TRes> | TRes,
    parse: ((raw: unknown) => TReq) | undefined,
  ): Promise<void> {
    if (!msg.reply) {
      this.logger.warn(`Message on request subject "${msg.subject}" has no reply subject; ignored`);
      return;
    }
    let reply: Uint8Array;
    let replyHeaders: MsgHdrs | undefined;
    try {
      const payload = this.decodeIncoming(msg, parse);
      const result = await handler(payload, { subject: msg.subject, headers: fromHeaders(msg.headers) });
      reply = codec.encode(result ?? null);
    } catch (error) {
      const errorReply = toErrorReply(error);
      this.logger.warn(
        `Handler for "${msg.subject}" failed with ${errorReply.error.code}: ${errorReply.error.message}`,
      );
      reply = codec.encode(errorReply);
      replyHeaders = natsHeaders();
      replyHeaders.set(ERROR_REPLY_HEADER, errorReply.error.code);
    }
    try {
      msg.respond(reply, { headers: replyHeaders });
    } catch (error) {
      this.logger.error(`Could not send the reply on "${msg.subject}": ${errorMessage(error)}`);
    }
  }

  private async deliver<T>(
    msg: Msg,
    handler: (payload: T, context: MessageContext) => Promise<void> | void,
    parse: ((raw: unknown) => T) | undefined,
  ): Promise<void> {
    try {
      const payload = this.decodeIncoming(msg, parse);
      await handler(payload, { subject: msg.subject, headers: fromHeaders(msg.headers) });
    } catch (error) {
      this.logger.error(`Handler for "${msg.subject}" failed: ${errorMessage(error)}`);
    }
  }

  private decodeIncoming<T>(msg: Msg, parse: ((raw: unknown) => T) | undefined): T {
    let raw: unknown;
    try {
      raw = msg.data.length === 0 ? null : codec.decode(msg.data);
    } catch (error) {
      throw Object.assign(new Error(`Payload on "${msg.subject}" is not valid JSON: ${errorMessage(error)}`), {
        code: 'BAD_JSON',
      });
    }
    return parse ? parse(raw) : (raw as T);
  }

  private requireConnection(subject: string): NatsConnection {
    if (this.drainPromise) throw new MessagingUnavailableError(subject, 'drained');
    if (!this.connection || this.connection.isClosed()) {
      throw new MessagingUnavailableError(subject, `not established (${this.lastError ?? 'connecting'})`);
    }
    return this.connection;
  }

  /** The current connection's request/reply inbox (it exists exactly while a connection does). */
  private requireMux(subject: string): RequestMux {
    this.requireConnection(subject);
    if (!this.mux) throw new MessagingUnavailableError(subject, 'no reply inbox on this connection');
    return this.mux;
  }

  private translateRequestError(error: unknown, subject: string, timeoutMs: number): Error {
    if (error instanceof MessagingError) return error;
    if (error instanceof NatsError) {
      switch (error.code) {
        case ErrorCode.Timeout:
          return new MessagingTimeoutError(subject, timeoutMs, { cause: error });
        case ErrorCode.NoResponders:
          return new NoRespondersError(subject, { cause: error });
        case ErrorCode.ConnectionClosed:
        case ErrorCode.ConnectionDraining:
        case ErrorCode.Disconnect:
          return new MessagingUnavailableError(subject, error.code.toLowerCase());
        default:
          return error;
      }
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}
