// Acceptance: usage reaches Kill Bill exactly once through duplicates, redeliveries, two SIGKILLs of the billing
// process and a 30-second Kill Bill outage. Everything is real: the billing process (run from source), nats-server
// with JetStream, PostgreSQL, and the strict Kill Bill stand-in speaking Kill Bill's REST API.
import { ensureStreams, usageSubject, type UsageEventV1 } from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { connect, JSONCodec, type JetStreamClient, type NatsConnection } from 'nats';

import { toMicro } from '../usage/usage-batch.builder';
import { BillingProcess } from './support/billing-process';
import {
  createBillingTestEnvironment,
  observerClient,
  type BillingTestEnvironment,
} from './support/billing-test-environment';
import { expectedSums, ownerIds, usageEvents } from './support/usage-events.fixture';

jest.setTimeout(300_000);

const EVENT_COUNT = 10_000;
const OUTAGE_MS = 30_000;
const codec = JSONCodec<unknown>();

describe('usage events are billed exactly once', () => {
  let environment: BillingTestEnvironment;
  let billing: BillingProcess;
  let nc: NatsConnection;
  let js: JetStreamClient;

  beforeAll(async () => {
    environment = await createBillingTestEnvironment({ SOVREN_BILLING_USAGE_MAX_BATCH: '500' });
    nc = await connect({ servers: environment.nats.url });
    await ensureStreams(await nc.jetstreamManager());
    js = nc.jetstream();
    billing = new BillingProcess(environment.env);
    await billing.start();
  });

  afterAll(async () => {
    await billing?.stop();
    await nc?.drain();
    await environment?.dispose();
  });

  async function ledgerCount(): Promise<number> {
    const [row] = await environment.query<{ count: string }>('SELECT count(*) FROM billing_usage_ledger');
    return Number(row.count);
  }

  const until = (what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<boolean> =>
    eventually(what, check, { timeoutMs, intervalMs: 250, detail: () => billing.tail() });

  /** Publishes events with their id as msgID; every 10th again with the same msgID (the stream drops it) and every
   *  7th again without one (it reaches billing, whose ledger must drop it). */
  async function publish(events: UsageEventV1[]): Promise<void> {
    for (let i = 0; i < events.length; i += 250) {
      const chunk = events.slice(i, i + 250);
      await Promise.all(
        chunk.map(async (event, j) => {
          const subject = usageSubject(event.source);
          await js.publish(subject, codec.encode(event), { msgID: event.eventId });
          if ((i + j) % 10 === 0) await js.publish(subject, codec.encode(event), { msgID: event.eventId });
          if ((i + j) % 7 === 0) await js.publish(subject, codec.encode(event));
        }),
      );
    }
  }

  it('records every unit sum exactly and keeps each event once in the ledger', async () => {
    const owners = ownerIds(20);
    const events = usageEvents(EVENT_COUNT, owners);
    const quarter = EVENT_COUNT / 4;

    // Malformed input on the stream: dead-lettered, never billed.
    const malformed = [
      'not json at all',
      JSON.stringify({ ...events[0], eventId: 'bad-negative', quantities: { llm_tokens_in: -5 } }),
      JSON.stringify({ ...events[0], eventId: 'bad-unit', quantities: { gpu_hours: 3 } }),
      JSON.stringify({ ...events[0], eventId: 'bad-version', v: 2 }),
    ];
    for (const payload of malformed) await js.publish(usageSubject('inference'), new TextEncoder().encode(payload));

    await publish(events.slice(0, quarter));
    await until('some usage in the ledger', async () => (await ledgerCount()) >= 500);
    await billing.kill(); // kill 1: mid-stream
    expect(await ledgerCount()).toBeLessThan(EVENT_COUNT);
    await publish(events.slice(quarter, 2 * quarter));
    await billing.start();
    await until('half the events in the ledger', async () => (await ledgerCount()) >= 2 * quarter - 200);

    await environment.killbill.stop(); // Kill Bill down for 30 s
    const outageStarted = Date.now();
    await publish(events.slice(2 * quarter, 3 * quarter));
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS / 2));
    await billing.kill(); // kill 2: while Kill Bill is down, with records persisted but not sent
    const [pendingAtKill] = await environment.query<{ count: string }>(
      `SELECT count(*) FROM billing_usage_ledger l LEFT JOIN billing_usage_batches b ON b.tracking_id = l.batch_id
        WHERE b.status IS DISTINCT FROM 'recorded'`,
    );
    expect(Number(pendingAtKill.count)).toBeGreaterThan(0);
    await billing.start();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
    await environment.killbill.start();
    await publish(events.slice(3 * quarter));

    await until('every event in the ledger and recorded', async () => {
      const [row] = await environment.query<{ total: string; open: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE b.status IS DISTINCT FROM 'recorded') AS open
           FROM billing_usage_ledger l LEFT JOIN billing_usage_batches b ON b.tracking_id = l.batch_id`,
      );
      return Number(row.total) === EVENT_COUNT && Number(row.open) === 0;
    });

    // The ledger holds each event once.
    const [ledger] = await environment.query<{ rows: string; ids: string }>(
      'SELECT count(*) AS rows, count(DISTINCT event_id) AS ids FROM billing_usage_ledger',
    );
    expect(Number(ledger.rows)).toBe(EVENT_COUNT);
    expect(Number(ledger.ids)).toBe(EVENT_COUNT);

    // Every Kill Bill call the consumer made carried a deterministic request id: derived from the owner's events
    // while making its account ready, the batch's trackingId while recording it or looking it up after an answer
    // that never came (the set-up's catalog upload and notification registration at start-up are not the consumer's).
    const consumerCalls = environment.killbill.requests.filter(
      (r) => r.path !== '/catalog/xml' && r.path !== '/tenants/registerNotificationCallback',
    );
    const recorded = await environment.query<{ tracking_id: string }>(
      "SELECT tracking_id FROM billing_usage_batches WHERE status = 'recorded'",
    );
    const usageIds = new Set(consumerCalls.filter((r) => r.path === '/usages').map((r) => r.requestId));
    expect(recorded.filter((batch) => !usageIds.has(`usage-${batch.tracking_id}`))).toEqual([]);
    const isUsageCall = (r: { path: string }) => r.path === '/usages' || r.path.startsWith('/usages/');
    expect(consumerCalls.filter((r) => isUsageCall(r) && !/^usage-[0-9a-f]{64}$/.test(r.requestId ?? ''))).toEqual([]);
    const accountCalls = consumerCalls.filter((r) => !isUsageCall(r));
    expect(accountCalls.length).toBeGreaterThanOrEqual(owners.length * 2);
    expect(accountCalls.filter((r) => !/^usage-account-[0-9a-f]{40}$/.test(r.requestId ?? ''))).toEqual([]);

    // Kill Bill's recorded usage per subscription and unit equals the events' sum, read through its usage API.
    const observer = observerClient(environment.env);
    const expected = expectedSums(events);
    let compared = 0;
    for (const [ownerId, byUnit] of expected) {
      const [account] = await environment.query<{ subscription_id: string }>(
        'SELECT subscription_id FROM billing_accounts WHERE owner_id = $1',
        [ownerId],
      );
      for (const [unit, micro] of byUnit) {
        const usage = await observer.getRolledUpUsage(account.subscription_id, unit, '2026-01-01', '2027-01-01');
        expect({ ownerId, unit, amount: toMicro(usage.rolledUpUnits[0].amount) }).toEqual({
          ownerId,
          unit,
          amount: micro,
        });
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(owners.length * 4);

    // Malformed messages were dead-lettered with a reason and a log line; none of them reached the ledger.
    const letters = await environment.query<{ reason: string }>(
      'SELECT reason FROM billing_usage_dead_letters ORDER BY stream_sequence',
    );
    expect(letters).toHaveLength(malformed.length);
    expect(letters.map((l) => l.reason).join('\n')).toMatch(
      /not JSON[\s\S]*quantities\.llm_tokens_in[\s\S]*gpu_hours[\s\S]*v/,
    );
    expect(billing.lines.some((line) => line.includes('usage event dead-lettered'))).toBe(true);

    // The consumer catches up: nothing left unacknowledged on the stream. Messages a killed process held come back
    // only after the consumer's ack wait (60 s); they are then acknowledged as duplicates, adding nothing.
    const jsm = await nc.jetstreamManager();
    await until(
      'the consumer to catch up',
      async () => {
        const info = await jsm.consumers.info('USAGE', 'billing-usage');
        return info.num_pending + info.num_ack_pending === 0;
      },
      150_000,
    );
    expect(
      Number((await environment.query<{ n: string }>('SELECT count(*) AS n FROM billing_usage_ledger'))[0].n),
    ).toBe(EVENT_COUNT);
  });
});
