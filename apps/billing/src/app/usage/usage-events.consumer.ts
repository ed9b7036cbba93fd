// The durable JetStream consumer of stream USAGE that records usage in Kill Bill exactly once.
//
// One cycle: fetch up to SOVREN_BILLING_USAGE_MAX_BATCH messages (waiting at most SOVREN_BILLING_USAGE_WINDOW_MS,
// which is the aggregation window) → dead-letter malformed ones (terminated, nothing billed) → write the rest to the
// ledger (unique on event id: a duplicate or redelivery adds nothing) → group every unbatched ledger event per owner
// into one usage record with a deterministic trackingId, persisted before sending → send the pending records to
// Kill Bill (a trackingId it already has counts as recorded) → only then acknowledge the messages. Owners are
// independent (their events never share a batch), so their batches are built and sent concurrently, at most
// SOVREN_BILLING_USAGE_CONCURRENCY at a time. Kill Bill calls carry a deterministic X-Request-Id: derived from the
// owner's events while its account is made ready, from the trackingId while a batch is sent.
// While Kill Bill (or PostgreSQL) is down the cycle waits and retries, holding at most one fetch of messages and
// telling JetStream they are still being worked on; the stream and the ledger keep the position across restarts.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { KillBillClient, KillBillError } from '@sovren/killbill';
import {
  BILLING_USAGE_DEAD_LETTER,
  ContractError,
  ensureConsumer,
  NatsClient,
  parseUsageEventV1,
  STREAM_USAGE,
  USAGE_ALL,
  UsageDeadLetterV1,
  UsageEventV1,
} from '@sovren/messaging';
import { MetricsService, runWithRequestId } from '@sovren/observability';
import { AckPolicy, nanos, type JsMsg } from 'nats';
import type { Counter, Gauge } from 'prom-client';

import { BillingAccountsService, ReadyAccount } from '../accounts/billing-accounts.service';
import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { forEachBounded } from './bounded-concurrency';
import {
  accountRequestId,
  batchRequestId,
  buildUsageBatch,
  LedgerEventForBatch,
  UsageBatch,
} from './usage-batch.builder';
import { PendingBatch, UsageLedgerRepository } from './usage-ledger.repository';

export const USAGE_CONSUMER_DURABLE = 'billing-usage';
const ACK_WAIT_MS = 60_000;
/** How often held messages are reported as still in progress while Kill Bill is down. */
const WORKING_EVERY_MS = 15_000;
const UNBATCHED_LIMIT = 5_000;
const MAX_BACKOFF_MS = 5_000;

@Injectable()
export class UsageEventsConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(UsageEventsConsumer.name);
  private readonly events: Counter<'result'>;
  private readonly lag: Gauge;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly nats: NatsClient,
    private readonly ledger: UsageLedgerRepository,
    private readonly accounts: BillingAccountsService,
    private readonly killbill: KillBillClient,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
    metrics: MetricsService,
  ) {
    this.events = metrics.counter({
      name: 'sovren_billing_usage_events_total',
      help: 'Usage events by result: consumed (read from the stream), recorded (accepted by Kill Bill), duplicate, failed (refused by Kill Bill), dead_lettered (malformed).',
      labelNames: ['result'],
    });
    for (const result of ['consumed', 'recorded', 'duplicate', 'failed', 'dead_lettered'] as const)
      this.events.inc({ result }, 0);
    this.lag = metrics.gauge({
      name: 'sovren_billing_consumer_lag_messages',
      help: 'Usage messages in stream USAGE not yet delivered to the billing consumer.',
    });
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.nats.whenConnected();
        const consumer = await this.consumer();
        await this.settle([]);
        while (!this.stopping) {
          const messages = await this.fetch(consumer);
          await this.process(messages);
          failures = 0;
        }
      } catch (error) {
        if (this.stopping) break;
        failures += 1;
        this.logger.error({ msg: 'usage consumer cycle failed; retrying', err: describe(error), attempt: failures });
        await this.pause(backoff(failures));
      }
    }
  }

  private async consumer() {
    const jsm = await this.nats.jetstreamManager();
    await ensureConsumer(jsm, STREAM_USAGE, {
      durable_name: USAGE_CONSUMER_DURABLE,
      ack_policy: AckPolicy.Explicit,
      filter_subject: USAGE_ALL,
      ack_wait: nanos(ACK_WAIT_MS),
      max_ack_pending: this.env.SOVREN_BILLING_USAGE_MAX_BATCH * 2,
    });
    return this.nats.jetstream().consumers.get(STREAM_USAGE, USAGE_CONSUMER_DURABLE);
  }

  private async fetch(consumer: Awaited<ReturnType<UsageEventsConsumer['consumer']>>): Promise<JsMsg[]> {
    const batch = await consumer.fetch({
      max_messages: this.env.SOVREN_BILLING_USAGE_MAX_BATCH,
      expires: Math.max(1_000, this.env.SOVREN_BILLING_USAGE_WINDOW_MS),
    });
    const messages: JsMsg[] = [];
    for await (const message of batch) messages.push(message);
    this.lag.set(messages.length > 0 ? messages[messages.length - 1].info.pending : 0);
    return messages;
  }

  private async process(messages: JsMsg[]): Promise<void> {
    if (messages.length === 0) return;
    this.events.inc({ result: 'consumed' }, messages.length);
    const valid: Array<{ message: JsMsg; event: UsageEventV1 }> = [];
    for (const message of messages) {
      const parsed = parse(message);
      if (typeof parsed === 'string') await this.deadLetter(message, parsed);
      else valid.push({ message, event: parsed });
    }
    if (valid.length === 0) return;
    const fresh = await this.ledger.insert(valid.map(({ message, event }) => ({ event, streamSequence: message.seq })));
    const duplicates = valid.length - fresh.size;
    if (duplicates > 0) this.events.inc({ result: 'duplicate' }, duplicates);
    const held = valid.map(({ message }) => message);
    await this.settle(held);
    if (this.stopping) return;
    // Kill Bill accepted everything these messages carry (or refused it for good): now they may leave the stream.
    for (const message of held) message.ack();
  }

  /** Batches every unbatched ledger event and sends every pending batch, waiting out Kill Bill outages. */
  private async settle(held: JsMsg[]): Promise<void> {
    let attempt = 0;
    let lastWorking = Date.now();
    while (!this.stopping) {
      try {
        await this.batchUnbatched();
        await this.sendPending();
        return;
      } catch (error) {
        attempt += 1;
        const line = {
          msg: 'usage not recorded yet; waiting for Kill Bill/PostgreSQL',
          err: describe(error),
          attempt,
          held: held.length,
        };
        if (attempt === 1 || attempt % 10 === 0) this.logger.warn(line);
        await this.pause(backoff(attempt));
        if (Date.now() - lastWorking >= WORKING_EVERY_MS) {
          for (const message of held) message.working();
          lastWorking = Date.now();
        }
      }
    }
  }

  private async batchUnbatched(): Promise<void> {
    for (;;) {
      const events = await this.ledger.unbatched(UNBATCHED_LIMIT);
      if (events.length === 0) return;
      const byOwner = new Map<string, LedgerEventForBatch[]>();
      for (const event of events) {
        const list = byOwner.get(event.ownerId) ?? [];
        list.push(event);
        byOwner.set(event.ownerId, list);
      }
      const ready: UsageBatch[] = [];
      try {
        await forEachBounded(
          [...byOwner],
          this.env.SOVREN_BILLING_USAGE_CONCURRENCY,
          async ([ownerId, ownerEvents]) => {
            const batch = await this.batchOwner(ownerId, ownerEvents);
            if (batch) ready.push(batch);
          },
        );
      } finally {
        // What was built is kept even when another owner's account could not be made ready yet.
        await this.ledger.saveBatches(ready);
      }
      if (events.length < UNBATCHED_LIMIT) return;
    }
  }

  /** The owner's batch, or undefined when Kill Bill refuses the owner for good (stored as rejected). */
  private async batchOwner(ownerId: string, ownerEvents: LedgerEventForBatch[]): Promise<UsageBatch | undefined> {
    let account: ReadyAccount;
    try {
      account = await runWithRequestId(accountRequestId(ownerId, ownerEvents), () => this.accounts.ensure(ownerId));
    } catch (error) {
      if (error instanceof KillBillError && !error.retryable) {
        // Kill Bill refuses this owner for good (e.g. the default plan is not in its catalog): keep the events in
        // the ledger under a rejected batch for reconciliation instead of blocking the stream.
        const batch = buildUsageBatch('00000000-0000-0000-0000-000000000000', ownerEvents);
        await this.ledger.saveBatch(batch, 'rejected', error.message);
        this.events.inc({ result: 'failed' }, ownerEvents.length);
        this.logger.error({
          msg: 'usage of owner refused by Kill Bill; not billed',
          owner: ownerId,
          events: ownerEvents.length,
          err: error.message,
        });
        return undefined;
      }
      throw error;
    }
    return buildUsageBatch(account.subscriptionId, ownerEvents);
  }

  private async sendPending(): Promise<void> {
    for (;;) {
      const batches = await this.ledger.pendingBatches(100);
      if (batches.length === 0) return;
      const accepted: PendingBatch[] = [];
      try {
        await forEachBounded(batches, this.env.SOVREN_BILLING_USAGE_CONCURRENCY, async (batch) => {
          // Under the batch's request id: Kill Bill's X-Request-Id and our log lines about the batch share it.
          if (await runWithRequestId(batchRequestId(batch.trackingId), () => this.send(batch))) accepted.push(batch);
        });
      } finally {
        await this.ledger.markRecorded(accepted.map((batch) => batch.trackingId));
        this.events.inc(
          { result: 'recorded' },
          accepted.reduce((sum, batch) => sum + batch.eventCount, 0),
        );
      }
    }
  }

  /** Sends one batch; true when Kill Bill has it, false when it refused it for good (marked rejected). */
  private async send(batch: PendingBatch): Promise<boolean> {
    try {
      const outcome = await this.killbill.recordUsage(
        { subscriptionId: batch.subscriptionId, trackingId: batch.trackingId, unitUsageRecords: batch.records },
        { reason: 'usage', comment: `${batch.eventCount} usage events` },
      );
      if (outcome === 'duplicate')
        this.logger.log({ msg: 'usage batch was already recorded by Kill Bill', tracking_id: batch.trackingId });
      return true;
    } catch (error) {
      if (error instanceof KillBillError && !error.retryable) {
        await this.ledger.markRejected(batch.trackingId, error.message);
        this.events.inc({ result: 'failed' }, batch.eventCount);
        this.logger.error({
          msg: 'Kill Bill refused a usage batch; not billed',
          tracking_id: batch.trackingId,
          owner: batch.ownerId,
          err: error.message,
        });
        return false;
      }
      await this.ledger.noteAttempt(batch.trackingId, describe(error)).catch((noteError: unknown) => {
        this.logger.warn({ msg: 'could not note a usage batch attempt', err: describe(noteError) });
      });
      throw error;
    }
  }

  private async deadLetter(message: JsMsg, reason: string): Promise<void> {
    const payload = Buffer.from(message.data).toString('utf8').slice(0, 2000);
    this.logger.warn({
      msg: 'usage event dead-lettered; nothing billed',
      subject: message.subject,
      stream_sequence: message.seq,
      reason,
    });
    await this.ledger.deadLetter({ subject: message.subject, streamSequence: message.seq, reason, payload });
    const letter: UsageDeadLetterV1 = {
      v: 1,
      subject: message.subject,
      streamSequence: message.seq,
      reason,
      payload,
      deadLetteredAt: new Date().toISOString(),
    };
    try {
      this.nats.publish(BILLING_USAGE_DEAD_LETTER, letter);
    } catch (error) {
      this.logger.error({
        msg: 'could not publish a usage dead letter (it is stored in billing_usage_dead_letters)',
        err: describe(error),
      });
    }
    message.term();
    this.events.inc({ result: 'dead_lettered' });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }
}

function parse(message: JsMsg): UsageEventV1 | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(message.data).toString('utf8'));
  } catch (error) {
    return `not JSON: ${describe(error)}`;
  }
  try {
    const event = parseUsageEventV1(raw);
    const token = message.subject.split('.').pop();
    if (token !== event.source) return `source "${event.source}" does not match subject ${message.subject}`;
    return event;
  } catch (error) {
    if (error instanceof ContractError) return error.message;
    throw error;
  }
}

function backoff(attempt: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(attempt - 1, 5));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
