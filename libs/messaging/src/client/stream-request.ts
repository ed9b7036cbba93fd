// Streamed request/reply, as inference.generate and inference.synthesize answer: subscribe to a fresh inbox of
// this connection, send the request naming it, take the accepted/refused reply, then read the stream's messages
// in order until the final one. The subscription is released on every path (final message, error, close()).
import { MessagingTimeoutError } from './messaging.errors';
import type { MessagingSubscription, NatsClient } from './nats.client';

export interface StreamRequestOptions<TReply, TMessage> {
  /** Contract validator of the immediate reply. */
  parseReply: (raw: unknown) => TReply;
  /** Contract validator of each stream message. */
  parseMessage: (raw: unknown) => TMessage;
  /** The message that ends the stream. */
  isFinal: (message: TMessage) => boolean;
  /** Whether the reply accepted the request (a refused request has no stream). */
  isAccepted: (reply: TReply) => boolean;
  /** Timeout of the immediate reply (ms). */
  timeoutMs?: number;
  /** Longest gap between two stream messages before the stream fails (ms, default 60 000). */
  idleTimeoutMs?: number;
}

export interface OpenedStream<TReply, TMessage> {
  reply: TReply;
  /** Empty (already closed) when the request was refused. */
  messages: MessageStream<TMessage>;
}

/** Stream messages in arrival order; iterate once. Ends after the final message. */
export class MessageStream<TMessage> implements AsyncIterable<TMessage> {
  private readonly queue: TMessage[] = [];
  private waiter: { resolve: () => void } | null = null;
  private failure: Error | null = null;
  private ended = false;
  private idleTimer: NodeJS.Timeout | null = null;
  private subscription: MessagingSubscription | null = null;

  constructor(
    private readonly subject: string,
    private readonly isFinal: (message: TMessage) => boolean,
    private readonly idleTimeoutMs: number,
  ) {}

  /** @internal */
  attach(subscription: MessagingSubscription): void {
    this.subscription = subscription;
    this.armIdleTimer();
  }

  /** @internal */
  deliver(message: TMessage): void {
    if (this.ended) return;
    this.queue.push(message);
    if (this.isFinal(message)) this.finish(null);
    else this.armIdleTimer();
    this.wake();
  }

  /** @internal */
  fail(error: Error): void {
    if (this.ended) return;
    this.finish(error);
    this.wake();
  }

  /** Stops listening; pending iteration ends (without error). Idempotent. */
  close(): void {
    this.finish(null);
    this.queue.length = 0;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TMessage> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.waiter = { resolve }));
      }
    } finally {
      this.close();
    }
  }

  private finish(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve();
  }

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.fail(new MessagingTimeoutError(this.subject, this.idleTimeoutMs)),
      this.idleTimeoutMs,
    );
    this.idleTimer.unref();
  }
}

/**
 * Sends `build(streamSubject)` to `subject` and opens its stream. A request that throws (timeout, no responders,
 * error reply) or is refused releases the subscription before returning or throwing.
 */
export async function streamRequest<TRequest, TReply, TMessage>(
  client: NatsClient,
  subject: string,
  build: (streamSubject: string) => TRequest,
  options: StreamRequestOptions<TReply, TMessage>,
): Promise<OpenedStream<TReply, TMessage>> {
  const streamSubject = client.inbox();
  const messages = new MessageStream<TMessage>(subject, options.isFinal, options.idleTimeoutMs ?? 60_000);
  const subscription = client.subscribe<unknown>(streamSubject, (raw) => {
    try {
      messages.deliver(options.parseMessage(raw));
    } catch (error) {
      messages.fail(error instanceof Error ? error : new Error(String(error)));
    }
  });
  messages.attach(subscription);
  try {
    const reply = await client.request<TRequest, TReply>(subject, build(streamSubject), {
      timeoutMs: options.timeoutMs,
      parse: options.parseReply,
    });
    if (!options.isAccepted(reply)) messages.close();
    return { reply, messages };
  } catch (error) {
    messages.close();
    throw error;
  }
}
