// Specification of the JetStream setup against the real server: idempotent streams, de-duplicated usage events,
// USAGE as a work queue (and the one-time move of a limits-retention USAGE to it). A private nats-server: the
// work queue admits one consumer, and the migration must not touch the shared server's streams.

import { randomUUID } from 'node:crypto';
import { AckPolicy, DiscardPolicy, JSONCodec, nanos, RetentionPolicy, StorageType, type JetStreamManager } from 'nats';
import {
  ensureConsumer,
  ensureStreams,
  NatsClient,
  parseUsageEventV1,
  SOVREN_STREAMS,
  sovrenStreams,
  STREAM_USAGE,
  usageSubject,
  type SovrenStreamConfig,
  type UsageEventV1,
} from '../index';
import { NatsTestServer } from '@sovren/testing';

describe('JetStream setup', () => {
  let server: NatsTestServer;
  let client: NatsClient;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await NatsTestServer.start({ jetstream: true });
    client = new NatsClient({ servers: server.url, name: 'sovren-jetstream-test' });
    await client.connect();
    jsm = await client.jetstreamManager();
  });

  afterAll(async () => {
    await client?.drain();
    await server?.dispose();
  });

  it('creates the SOVREN streams and leaves them identical when run twice', async () => {
    const first = await ensureStreams(jsm);
    const second = await ensureStreams(jsm);
    expect(first.map((info) => info.config.name)).toEqual(['USAGE', 'CALLS', 'AUDIT', 'AGENTS', 'BILLING_TIER']);
    expect(second.map((info) => info.config)).toEqual(first.map((info) => info.config));
    const usage = await jsm.streams.info('USAGE');
    expect(usage.config.subjects).toEqual(['usage.>']);
    expect(usage.config.storage).toBe(StorageType.File);
    expect(usage.config.duplicate_window).toBeGreaterThan(0);
    expect(usage.config.retention).toBe(RetentionPolicy.Workqueue);
    expect(usage.config.discard).toBe(DiscardPolicy.New);
    expect((await jsm.streams.info('BILLING_TIER')).config.retention).toBe(RetentionPolicy.Workqueue);
    for (const definition of SOVREN_STREAMS) {
      expect((await jsm.streams.info(definition.name)).config.storage).toBe(StorageType.File);
    }
  });

  it('updates a stream whose limits drifted', async () => {
    const token = randomUUID().replace(/-/g, '');
    const definition: SovrenStreamConfig = {
      name: `SOVREN_TEST_${token}`,
      subjects: [`sovren-test-stream.${token}.>`],
      storage: StorageType.Memory,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(60_000),
      max_bytes: 1024 * 1024,
      max_msg_size: 1024,
      duplicate_window: nanos(30_000),
      num_replicas: 1,
    };
    try {
      await ensureStreams(jsm, [definition]);
      const [updated] = await ensureStreams(jsm, [{ ...definition, max_age: nanos(120_000) }]);
      expect(updated?.config.max_age).toBe(nanos(120_000));
      await expect(ensureStreams(jsm, [{ ...definition, storage: StorageType.File }])).rejects.toThrow(
        new RegExp(`${definition.name} exists with a different storage`),
      );
    } finally {
      await jsm.streams.delete(definition.name);
    }
  });

  it('stores a published usage event once even when it is published twice with the same id', async () => {
    await ensureStreams(jsm);
    const source = `test${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const subject = usageSubject(source);
    const event: UsageEventV1 = {
      v: 1,
      eventId: randomUUID(),
      requestId: 'req-dedup',
      ownerId: 'owner-dedup',
      source,
      quantities: { llm_tokens_out: 7 },
      occurredAt: new Date().toISOString(),
    };
    const first = await client.publishToStream(subject, event, { msgID: event.eventId });
    const second = await client.publishToStream(subject, event, { msgID: event.eventId });
    try {
      expect(first.stream).toBe(STREAM_USAGE);
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      expect(second.seq).toBe(first.seq);
      const info = await jsm.streams.info(STREAM_USAGE, { subjects_filter: subject });
      expect(info.state.subjects?.[subject]).toBe(1);
      const stored = await jsm.streams.getMessage(STREAM_USAGE, { last_by_subj: subject });
      expect(parseUsageEventV1(stored.json())).toEqual(event);
    } finally {
      // Keep the shared USAGE stream free of test events that a dev billing consumer could pick up.
      await jsm.streams.deleteMessage(STREAM_USAGE, first.seq);
    }
  });

  it('creates a durable consumer idempotently', async () => {
    await ensureStreams(jsm);
    const durable = `sovren_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    try {
      const first = await ensureConsumer(jsm, STREAM_USAGE, { durable_name: durable, filter_subject: 'usage.>' });
      const second = await ensureConsumer(jsm, STREAM_USAGE, { durable_name: durable, filter_subject: 'usage.>' });
      expect(second.config).toEqual(first.config);
      const changed = await ensureConsumer(jsm, STREAM_USAGE, {
        durable_name: durable,
        filter_subject: 'usage.>',
        max_deliver: 5,
      });
      expect(changed.config.max_deliver).toBe(5);
    } finally {
      await jsm.consumers.delete(STREAM_USAGE, durable);
    }
  });

  describe('stream USAGE under limits retention (before it became a work queue)', () => {
    const limitsUsage = { ...sovrenStreams()[0], retention: RetentionPolicy.Limits };
    const codec = JSONCodec<unknown>();

    beforeEach(async () => {
      await jsm.streams.delete(STREAM_USAGE).catch(() => undefined);
      await jsm.streams.add(limitsUsage);
    });

    afterAll(async () => {
      await jsm.streams.delete(STREAM_USAGE).catch(() => undefined);
      await ensureStreams(jsm);
    });

    it('is recreated as a work queue once its consumer acknowledged everything, keeping the sequence going', async () => {
      const js = client.jetstream();
      for (let i = 0; i < 5; i += 1) await js.publish(usageSubject('inference'), codec.encode({ i }));
      await jsm.consumers.add(STREAM_USAGE, {
        durable_name: 'billing-usage',
        ack_policy: AckPolicy.Explicit,
        filter_subject: 'usage.>',
      });
      const consumer = await js.consumers.get(STREAM_USAGE, 'billing-usage');
      const batch = await consumer.fetch({ max_messages: 5, expires: 2_000 });
      for await (const message of batch) await message.ackAck();

      const [usage] = await ensureStreams(jsm, [sovrenStreams()[0]]);

      expect(usage?.config.retention).toBe(RetentionPolicy.Workqueue);
      const next = await js.publish(usageSubject('inference'), codec.encode({ i: 5 }));
      expect(next.seq).toBe(6);
    });

    it('is left as it is while a message is not acknowledged, and the error says so', async () => {
      const js = client.jetstream();
      for (let i = 0; i < 3; i += 1) await js.publish(usageSubject('inference'), codec.encode({ i }));
      await jsm.consumers.add(STREAM_USAGE, {
        durable_name: 'billing-usage',
        ack_policy: AckPolicy.Explicit,
        filter_subject: 'usage.>',
      });

      await expect(ensureStreams(jsm, [sovrenStreams()[0]])).rejects.toThrow(
        /USAGE has limits retention and must become workqueue.*consumer billing-usage .*3 pending/,
      );

      const usage = await jsm.streams.info(STREAM_USAGE);
      expect(usage.config.retention).toBe(RetentionPolicy.Limits);
      expect(usage.config.subjects).toEqual(['usage.>']);
      expect(usage.state.messages).toBe(3);
      // Still taking usage: the parked subjects were given back.
      expect((await js.publish(usageSubject('inference'), codec.encode({ i: 3 }))).seq).toBe(4);
    });

    it('with messages and no consumer at all is left as it is', async () => {
      await client.jetstream().publish(usageSubject('voice'), codec.encode({ i: 0 }));
      await expect(ensureStreams(jsm, [sovrenStreams()[0]])).rejects.toThrow(/holds 1 messages and has no consumer/);
      expect((await jsm.streams.info(STREAM_USAGE)).state.messages).toBe(1);
    });
  });

  it('removes an acknowledged usage event from the work queue', async () => {
    await ensureStreams(jsm);
    const js = client.jetstream();
    await jsm.consumers.add(STREAM_USAGE, {
      durable_name: 'billing-usage-wq',
      ack_policy: AckPolicy.Explicit,
      filter_subject: 'usage.>',
    });
    try {
      await js.publish(usageSubject('inference'), JSONCodec<unknown>().encode({ any: 1 }));
      expect((await jsm.streams.info(STREAM_USAGE)).state.messages).toBe(1);
      const batch = await (await js.consumers.get(STREAM_USAGE, 'billing-usage-wq')).fetch({ max_messages: 1 });
      for await (const message of batch) await message.ackAck();
      expect((await jsm.streams.info(STREAM_USAGE)).state.messages).toBe(0);
    } finally {
      await jsm.consumers.delete(STREAM_USAGE, 'billing-usage-wq');
    }
  });
});
