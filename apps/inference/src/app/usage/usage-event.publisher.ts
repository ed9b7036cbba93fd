// Publishes one usage event per finished request to JetStream (`usage.inference`), in the background: generation
// never waits for it. A failed publish is retried with back-off; the event id is the JetStream msgID, so a retry
// whose first attempt did land is dropped by the stream as a duplicate and billing counts it once.
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { NatsClient, usageSubject, type UsageEventV1 } from '@sovren/messaging';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 30_000;
/** Events kept for retry while NATS is away; beyond that the oldest are logged in full and dropped. */
const MAX_PENDING = 100_000;

@Injectable()
export class UsageEventPublisher implements OnApplicationShutdown {
  private readonly logger = new Logger(UsageEventPublisher.name);
  private readonly pending: UsageEventV1[] = [];
  private draining: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly nats: NatsClient) {}

  publish(event: UsageEventV1): void {
    if (this.pending.length >= MAX_PENDING) {
      const dropped = this.pending.shift();
      this.logger.error({
        msg: 'usage retry queue full; dropping the oldest event (bill it from this line)',
        event: dropped,
      });
    }
    this.pending.push(event);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  /** Resolves once every event handed over so far was acknowledged by the stream (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async onApplicationShutdown(): Promise<void> {
    // A last chance for events still waiting; NATS drains after this hook.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
    await Promise.race([this.whenIdle(), deadline]);
    this.closed = true;
    for (const event of this.pending.splice(0)) {
      this.logger.error({ msg: 'shutting down with an unpublished usage event (bill it from this line)', event });
    }
  }

  private async drain(): Promise<void> {
    let delay = FIRST_RETRY_MS;
    while (this.pending.length > 0 && !this.closed) {
      const event = this.pending[0];
      try {
        await this.nats.publishToStream(usageSubject(event.source), event, { msgID: event.eventId });
        this.pending.shift();
        delay = FIRST_RETRY_MS;
      } catch (error) {
        this.logger.warn({
          msg: 'usage event not acknowledged; retrying',
          event_id: event.eventId,
          retry_ms: delay,
          pending: this.pending.length,
          err: error instanceof Error ? error.message : String(error),
        });
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(MAX_RETRY_MS, delay * 2);
      }
    }
  }
}
