// The durable JetStream consumer of stream USAGE (a work queue): it moves usage events into billing's PostgreSQL
// ledger and acknowledges them, which removes them from the stream. One cycle: fetch up to
// SOVREN_BILLING_USAGE_MAX_BATCH messages (waiting at most SOVREN_BILLING_USAGE_WINDOW_MS) → dead-letter malformed ones
// (terminated, nothing billed) → insert the rest into the ledger (unique on event id: a duplicate or redelivery adds
// nothing) → acknowledge them once that insert is committed → wake the recorder (usage-recorder.ts), which records
// the ledger in Kill Bill owner by owner. So a Kill Bill outage or a misconfigured Kill Bill never backs the stream
// up: the backlog waits in PostgreSQL, the stream only holds what billing has not read yet. While PostgreSQL is down
// the messages are handed back (nak with a delay) and the cycle waits; the stream keeps them across restarts.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
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
import { Backoff, errorMessage, WakeableSleep } from '@sovren/resilience';
import { AckPolicy, nanos, type JsMsg } from 'nats';
import type { Counter, Gauge } from 'prom-client';

import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { BillingMetrics } from '../billing.metrics';
import { UsageLedgerRepository } from './usage-ledger.repository';
import { UsageRecorder } from './usage-recorder';

export const USAGE_CONSUMER_DURABLE = 'billing-usage';
const ACK_WAIT_MS = 60_000;

@Injectable()
export class UsageEventsConsumer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(UsageEventsConsumer.name);
  private readonly events: Counter<'result'>;
  private readonly lag: Gauge;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new WakeableSleep();

  constructor(
    private readonly nats: NatsClient,
    private readonly ledger: UsageLedgerRepository,
    private readonly recorder: UsageRecorder,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
    metrics: BillingMetrics,
  ) {
    this.events = recorder.eventsCounter;
    this.lag = metrics.consumerLag;
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.sleeper.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const failures = new Backoff({
      initialMs: 250,
      maxMs: Math.min(5_000, this.env.SOVREN_BILLING_USAGE_RETRY_MAX_MS),
    });
    while (!this.stopping) {
      try {
        await this.nats.whenConnected();
        const consumer = await this.consumer();
        while (!this.stopping) {
          const messages = await this.fetch(consumer);
          await this.take(messages, failures);
          failures.reset();
        }
      } catch (error) {
        if (this.stopping) break;
        const waitMs = Math.max(50, failures.next());
        this.logger.error({
          msg: 'usage consumer cycle failed; retrying',
          err: errorMessage(error),
          attempt: failures.retries,
          retry_in_ms: waitMs,
        });
        await this.sleeper.sleep(waitMs);
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

  /** Ledger first, acknowledgement second: an event leaves the stream only once PostgreSQL holds it. */
  private async take(messages: JsMsg[], failures: Backoff): Promise<void> {
    if (messages.length === 0) return;
    this.events.inc({ result: 'consumed' }, messages.length);
    const valid: Array<{ message: JsMsg; event: UsageEventV1 }> = [];
    const terminated = new Set<JsMsg>();
    try {
      for (const message of messages) {
        const parsed = parse(message);
        if (typeof parsed === 'string') {
          await this.deadLetter(message, parsed);
          terminated.add(message);
        } else valid.push({ message, event: parsed });
      }
      if (valid.length === 0) return;
      const fresh = await this.ledger.insert(
        valid.map(({ message, event }) => ({ event, streamSequence: message.seq })),
      );
      const duplicates = valid.length - fresh.size;
      if (duplicates > 0) this.events.inc({ result: 'duplicate' }, duplicates);
    } catch (error) {
      // PostgreSQL is not taking them: hand back what is not stored, to be delivered again after a wait.
      const retryMs = Math.max(250, failures.next());
      for (const message of messages) if (!terminated.has(message)) message.nak(retryMs);
      throw error;
    }
    for (const { message } of valid) message.ack();
    this.recorder.wake();
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
        err: errorMessage(error),
      });
    }
    message.term();
    this.events.inc({ result: 'dead_lettered' });
  }
}

function parse(message: JsMsg): UsageEventV1 | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(message.data).toString('utf8'));
  } catch (error) {
    return `not JSON: ${errorMessage(error)}`;
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
