// Publishes one usage event per finished request to JetStream (`usage.inference`). publish() first writes the
// event to the SQLite outbox (usage-outbox.ts) synchronously, so it is on disk before the client gets its answer;
// a background drain then publishes the outbox in order and deletes each row once the stream acknowledged it.
// The event id is the JetStream msgID, so a row published again after a crash (or by a second process sharing
// the outbox) is dropped by the stream's duplicate window and billing counts it once.
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { NatsClient, usageSubject, type UsageEventV1 } from '@sovren/messaging';
import { Backoff, errorMessage, WakeableSleep } from '@sovren/resilience';
import { join } from 'node:path';

import { USAGE_OUTBOX_FILE, UsageOutbox } from './usage-outbox';

/** Rows read per round of the drain. */
const BATCH = 64;

@Injectable()
export class UsageEventPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UsageEventPublisher.name);
  private readonly outbox: UsageOutbox;
  private readonly backoff = new Backoff({ initialMs: 250, maxMs: 30_000 });
  private draining: Promise<void> | undefined;
  /** publish() ran while a drain was reading: drain again before going idle. */
  private more = false;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  /** The drain's back-off wait; shutdown ends it early. */
  private readonly sleeper = new WakeableSleep();

  constructor(
    private readonly nats: NatsClient,
    config: PlatformConfig,
  ) {
    this.outbox = new UsageOutbox(join(config.paths.data, USAGE_OUTBOX_FILE));
  }

  onApplicationBootstrap(): void {
    const left = this.outbox.count();
    if (left > 0) {
      this.logger.log({ msg: 'publishing usage events left in the outbox by an earlier run', events: left });
      this.kick();
    }
  }

  /** Stores the event durably (synchronously), then publishes it in the background. */
  publish(event: UsageEventV1): void {
    const row = { eventId: event.eventId, subject: usageSubject(event.source), payload: JSON.stringify(event) };
    try {
      this.outbox.add(row);
    } catch (error) {
      // The disk refused the write: the line below is the only record left, in full, for billing by hand.
      this.logger.error({
        msg: 'cannot store a usage event in the outbox (bill it from this line)',
        event,
        err: errorMessage(error),
      });
      return;
    }
    this.kick();
  }

  /** Resolves once every event handed over so far was acknowledged by the stream (tests, shutdown). */
  whenIdle(): Promise<void> {
    if (!this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async onApplicationShutdown(): Promise<void> {
    // A last chance for events still waiting; NATS drains after this hook. What is left stays in the outbox.
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
    await Promise.race([this.whenIdle(), deadline]);
    this.closed = true;
    this.sleeper.wake();
    await this.draining;
    const left = this.outbox.count();
    if (left > 0) this.logger.warn({ msg: 'usage events left in the outbox for the next start', events: left });
    this.outbox.close();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.draining) {
      this.more = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      this.more = false;
      const rows = this.outbox.oldest(BATCH);
      if (rows.length === 0) {
        if (this.more) continue;
        return;
      }
      for (const row of rows) {
        if (this.closed) return;
        try {
          await this.nats.publishToStream(row.subject, JSON.parse(row.payload), { msgID: row.eventId });
          this.outbox.remove(row.eventId);
          this.backoff.reset();
        } catch (error) {
          const delay = this.backoff.next();
          this.logger.warn({
            msg: 'usage event not acknowledged; retrying',
            event_id: row.eventId,
            retry_ms: delay,
            pending: this.outbox.count(),
            err: errorMessage(error),
          });
          await this.sleeper.sleep(delay);
          break; // re-read the oldest rows: order kept, nothing skipped
        }
      }
    }
  }
}
