// Specification of how usage reaches Kill Bill when things go wrong: more usage than the USAGE stream can hold
// passes through it, one owner's failing calls do not hold up the others, Kill Bill refusing billing's credentials
// makes usage wait (nothing rejected), and a record whose answer came too late is not sent twice. The real billing
// app against real NATS (JetStream), PostgreSQL and the strict Kill Bill stand-in, with short timers.
import { STREAM_USAGE, usageSubject, type UsageEventV1 } from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { connect, JSONCodec, RetentionPolicy, type JetStreamClient, type NatsConnection } from 'nats';

import { toMicro } from '../usage/usage-batch.builder';
import { UsageRecorder } from '../usage/usage-recorder';
import { startBillingApp, type RunningBilling } from './support/billing-test-app';
import {
  createBillingTestEnvironment,
  observerClient,
  type BillingTestEnvironment,
} from './support/billing-test-environment';

jest.setTimeout(120_000);

/** A lowered USAGE limit: a few dozen events fill it. */
const USAGE_MAX_BYTES = 16 * 1024;
const codec = JSONCodec<unknown>();

describe('usage recording under faults', () => {
  let environment: BillingTestEnvironment;
  let billing: RunningBilling;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let sequence = 0;

  beforeAll(async () => {
    environment = await createBillingTestEnvironment({
      SOVREN_NATS_USAGE_MAX_BYTES: String(USAGE_MAX_BYTES),
      SOVREN_BILLING_USAGE_RETRY_MAX_MS: '400',
      SOVREN_KILLBILL_TIMEOUT_MS: '1000',
      SOVREN_BILLING_USAGE_LOOKUP_AFTER_MS: '3000',
    });
    billing = await startBillingApp(environment.env);
    nc = await connect({ servers: environment.nats.url });
    js = nc.jetstream();
  });

  afterEach(() => {
    environment.killbill.clearInjections();
    environment.killbill.setApiSecret(environment.env['SOVREN_KILLBILL_API_SECRET']);
  });

  afterAll(async () => {
    await nc?.drain();
    await billing?.close();
    await environment?.dispose();
  });

  function events(ownerId: string, count: number): UsageEventV1[] {
    return Array.from({ length: count }, () => {
      sequence += 1;
      return {
        v: 1,
        eventId: `evt-${ownerId}-${sequence}`,
        requestId: `req-${sequence}`,
        ownerId,
        source: 'inference',
        quantities: { llm_tokens_in: 100 + (sequence % 7), llm_tokens_out: 10 + (sequence % 3) },
        occurredAt: '2026-03-02T10:00:00.000Z',
      };
    });
  }

  async function publish(batch: UsageEventV1[]): Promise<void> {
    for (const event of batch) {
      await js.publish(usageSubject(event.source), codec.encode(event), { msgID: event.eventId });
    }
  }

  const until = (what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<boolean> =>
    eventually(what, check, { timeoutMs });

  /** Events of `ownerIds` in the ledger, and how many of them are in a batch Kill Bill recorded / refused. */
  async function ledger(ownerIds: string[]): Promise<{ total: number; recorded: number; rejected: number }> {
    const [row] = await environment.query<{ total: string; recorded: string; rejected: string }>(
      `SELECT count(*) AS total, count(*) FILTER (WHERE b.status = 'recorded') AS recorded,
              count(*) FILTER (WHERE b.status = 'rejected') AS rejected
         FROM billing_usage_ledger l LEFT JOIN billing_usage_batches b ON b.tracking_id = l.batch_id
        WHERE l.owner_id = ANY($1)`,
      [ownerIds],
    );
    return { total: Number(row.total), recorded: Number(row.recorded), rejected: Number(row.rejected) };
  }

  /** What Kill Bill holds for the owner, per unit, in millionths, next to what its events add up to. */
  async function billedInKillBill(ownerId: string, sent: UsageEventV1[]): Promise<{ billed: object; sent: object }> {
    const [account] = await environment.query<{ subscription_id: string }>(
      'SELECT subscription_id FROM billing_accounts WHERE owner_id = $1',
      [ownerId],
    );
    const observer = observerClient(environment.env);
    const billed: Record<string, bigint> = {};
    const expected: Record<string, bigint> = {};
    for (const unit of ['llm_tokens_in', 'llm_tokens_out'] as const) {
      const usage = await observer.getRolledUpUsage(account.subscription_id, unit, '2026-01-01', '2027-01-01');
      billed[unit] = toMicro(usage.rolledUpUnits[0]?.amount ?? 0);
      expected[unit] = sent.reduce((sum, event) => sum + toMicro(event.quantities[unit] ?? 0), 0n);
    }
    return { billed, sent: expected };
  }

  /** Every batch of the owner Kill Bill recorded was written there exactly once. */
  async function writesPerBatch(ownerId: string): Promise<number[]> {
    const batches = await environment.query<{ tracking_id: string }>(
      "SELECT tracking_id FROM billing_usage_batches WHERE owner_id = $1 AND status = 'recorded'",
      [ownerId],
    );
    return batches.map((batch) => environment.killbill.usageWritesFor(batch.tracking_id));
  }

  it('passes far more usage than the USAGE stream can hold through it, billing all and refusing none', async () => {
    const owner = 'owner-volume';
    const sent: UsageEventV1[] = [];
    const jsm = await nc.jetstreamManager();
    // Ten waves of 40 events, each well under the limit, ten times the limit in all: each wave is in the ledger
    // and acknowledged before the next, so a stream that let acknowledged usage go never fills up.
    for (let wave = 0; wave < 10; wave += 1) {
      const batch = events(owner, 40);
      await publish(batch); // a refused publish (stream full) throws here
      sent.push(...batch);
      await until('the wave to be in the ledger', async () => (await ledger([owner])).total === sent.length);
      await until('the stream to let the acknowledged wave go', async () => {
        return (await jsm.streams.info(STREAM_USAGE)).state.messages === 0;
      });
    }
    const usage = await jsm.streams.info(STREAM_USAGE);
    expect(usage.config.max_bytes).toBe(USAGE_MAX_BYTES);
    expect(usage.config.retention).toBe(RetentionPolicy.Workqueue);
    expect(usage.state.bytes).toBe(0);

    await until('every event to be recorded', async () => (await ledger([owner])).recorded === sent.length);
    const { billed, sent: expected } = await billedInKillBill(owner, sent);
    expect(billed).toEqual(expected);
  });

  it("records the other owners' usage while one owner's account calls keep failing, and its own once they work", async () => {
    const failing = 'owner-failing-account';
    const healthy = ['owner-healthy-1', 'owner-healthy-2'];
    // Kill Bill fails every call creating the failing owner's account (a 503: worth retrying, not a refusal).
    environment.killbill.injectFailure({
      method: 'POST',
      pathPrefix: '/accounts',
      bodyIncludes: failing,
      status: 503,
      times: 1_000_000,
    });
    const failingEvents = events(failing, 5);
    await publish(failingEvents);
    const healthyEvents = healthy.map((owner) => events(owner, 5));
    await publish(healthyEvents.flat());

    await until('the healthy owners to be billed', async () => (await ledger(healthy)).recorded === 10);
    expect(await ledger([failing])).toEqual({ total: 5, recorded: 0, rejected: 0 });
    for (const [index, owner] of healthy.entries()) {
      const { billed, sent } = await billedInKillBill(owner, healthyEvents[index]);
      expect(billed).toEqual(sent);
    }

    // More usage of a healthy owner keeps flowing while the failing owner still waits.
    const later = events(healthy[0], 3);
    await publish(later);
    await until('the later usage to be billed', async () => (await ledger([healthy[0]])).recorded === 8);
    expect((await ledger([failing])).recorded).toBe(0);

    environment.killbill.clearInjections();
    await until('the failing owner to be billed once its calls work', async () => {
      return (await ledger([failing])).recorded === 5;
    });
    const { billed, sent } = await billedInKillBill(failing, failingEvents);
    expect(billed).toEqual(sent);
  });

  it("keeps usage waiting while Kill Bill refuses billing's credentials (401), reports billing not ready, and records it exactly once after the fix", async () => {
    const known = 'owner-known-before-401';
    const first = events(known, 2);
    await publish(first);
    await until('the known owner to have an account', async () => (await ledger([known])).recorded === 2);

    // The tenant secret Kill Bill expects changes under billing's feet: every call now answers 401.
    environment.killbill.setApiSecret('rotated-by-someone-else');
    const fresh = 'owner-new-during-401';
    const during = [...events(known, 4), ...events(fresh, 4)];
    await publish(during);
    const recorder = billing.app.get(UsageRecorder);
    await until('the configuration fault to be noticed', async () => recorder.configurationFaulty);
    // The fault is an operator's matter: readiness (and so the heartbeat and monitoring's alert) names it.
    const notReady = await fetch(`${billing.url}/health/ready`);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as { error: { details: { failing: string[] } } }).error.details.failing).toEqual([
      'killbill',
    ]);
    await until('the events to be in the ledger', async () => (await ledger([known, fresh])).total === 10);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // several retries' worth of waiting
    expect(await ledger([known, fresh])).toEqual({ total: 10, recorded: 2, rejected: 0 });
    const refused = environment.killbill.requests.filter((r) => r.status === 401).length;
    expect(refused).toBeGreaterThan(1);

    environment.killbill.setApiSecret(environment.env['SOVREN_KILLBILL_API_SECRET']); // the fix
    await until('the waiting usage to be recorded', async () => (await ledger([known, fresh])).recorded === 10);
    expect(recorder.configurationFaulty).toBe(false);
    expect((await fetch(`${billing.url}/health/ready`)).status).toBe(200);
    const knownTotals = await billedInKillBill(known, [...first, ...during.slice(0, 4)]);
    expect(knownTotals.billed).toEqual(knownTotals.sent);
    const freshTotals = await billedInKillBill(fresh, during.slice(4));
    expect(freshTotals.billed).toEqual(freshTotals.sent);
    expect([...(await writesPerBatch(known)), ...(await writesPerBatch(fresh))].every((n) => n === 1)).toBe(true);
  });

  it('records usage once when Kill Bill writes it but answers only after the client gave up', async () => {
    const owner = 'owner-late-answer';
    const first = events(owner, 1);
    await publish(first);
    await until('the owner to have an account', async () => (await ledger([owner])).recorded === 1);
    const [account] = await environment.query<{ subscription_id: string }>(
      'SELECT subscription_id FROM billing_accounts WHERE owner_id = $1',
      [owner],
    );
    // Kill Bill checks the trackingId at once but writes the record 2.5 s later, after the 1 s client timeout; a
    // repeat arriving in between passes the same check (as on the real server) and would be written too.
    environment.killbill.injectDelay({
      method: 'POST',
      pathPrefix: '/usages',
      bodyIncludes: account.subscription_id,
      ms: 2_500,
      times: 1,
      phase: 'commit',
    });
    const late = events(owner, 3);
    await publish(late);
    await until('the late batch to be recorded', async () => (await ledger([owner])).recorded === 4);
    // Give the slow first request time to finish writing, then count.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const totals = await billedInKillBill(owner, [...first, ...late]);
    expect(totals.billed).toEqual(totals.sent);
    expect(await writesPerBatch(owner)).toEqual([1, 1]);
  });
});
