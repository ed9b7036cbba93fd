// Request/reply over one inbox subscription per connection. nats.js's own request() builds up to three Error
// objects per call (an async-trace context, a timeout, and a "cancelled" rejection of the settled request), and
// capturing their stack traces was most of a caller's CPU per request: auth.validate runs on every guarded request
// of every service. Here a request costs a map entry, a timer and a publish; errors are only built when one
// happens, and they name the subject.
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';

import { MessagingTimeoutError, MessagingUnavailableError, NoRespondersError } from './messaging.errors';

/** Status code NATS sends to the reply subject when nobody is subscribed to the request subject. */
const NO_RESPONDERS_STATUS = 503;

interface PendingRequest {
  subject: string;
  resolve: (msg: Msg) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class RequestMux {
  private readonly prefix: string;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly subscription: Subscription;
  private nextToken = 0;
  private closedReason: string | undefined;

  /** `onError` hears about replies that could not be delivered (subscription errors). */
  constructor(
    private readonly connection: NatsConnection,
    private readonly onError: (message: string) => void,
    inboxPrefix?: string,
  ) {
    // The connection's own inbox prefix, so replies stay inside what this user may subscribe to.
    this.prefix = createInbox(inboxPrefix);
    // Subscriptions survive reconnects of this connection (nats.js resubscribes them).
    this.subscription = connection.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (error) {
          this.onError(`NATS reply inbox ${this.prefix} failed: ${error.message}`);
          return;
        }
        this.settle(msg);
      },
    });
  }

  /** In-flight requests (for tests and diagnostics). */
  get size(): number {
    return this.pending.size;
  }

  /** Publishes `data` on `subject` and resolves with the reply; rejects with a MessagingError naming the subject. */
  request(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, timeoutMs: number): Promise<Msg> {
    if (this.closedReason !== undefined) {
      return Promise.reject(new MessagingUnavailableError(subject, this.closedReason));
    }
    const token = (this.nextToken++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new MessagingTimeoutError(subject, timeoutMs));
      }, timeoutMs);
      this.pending.set(token, { subject, resolve, reject, timer });
      try {
        this.connection.publish(subject, data, { reply: `${this.prefix}.${token}`, headers });
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(token);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Fails every pending request with MessagingUnavailableError(reason) and refuses new ones. */
  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const [token, request] of this.pending) {
      clearTimeout(request.timer);
      this.pending.delete(token);
      request.reject(new MessagingUnavailableError(request.subject, reason));
    }
    if (!this.connection.isClosed()) this.subscription.unsubscribe();
  }

  private settle(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length + 1);
    const request = this.pending.get(token);
    if (!request) return; // a reply after its request timed out: nobody waits for it any more
    this.pending.delete(token);
    clearTimeout(request.timer);
    if (msg.headers?.hasError && msg.headers.code === NO_RESPONDERS_STATUS && msg.data.length === 0) {
      request.reject(new NoRespondersError(request.subject));
      return;
    }
    request.resolve(msg);
  }
}
