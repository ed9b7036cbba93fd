// Specification of the JetStream setup against the real server: idempotent streams, de-duplicated usage events.

import { randomUUID } from 'node:crypto';
import { DiscardPolicy, nanos, RetentionPolicy, StorageType, type JetStreamManager } from 'nats';
import {
  ensureConsumer,
  ensureStreams,
  NatsClient,
  parseUsageEventV1,
  SOVREN_STREAMS,
  STREAM_USAGE,
  usageSubject,
  type SovrenStreamConfig,
  type UsageEventV1,
} from '../index';
import { TEST_NATS_URL } from '@sovren/testing';

describe('JetStream setup', () => {
  let client: NatsClient;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    client = new NatsClient({ servers: TEST_NATS_URL, name: 'sovren-jetstream-test' });
    await client.connect();
    jsm = await client.jetstreamManager();
  });

  afterAll(async () => {
    await client.drain();
  });

  it('creates the four SOVREN streams and leaves them identical when run twice', async () => {
    const first = await ensureStreams(jsm);
    const second = await ensureStreams(jsm);
    expect(first.map((info) => info.config.name)).toEqual(['USAGE', 'CALLS', 'AUDIT', 'AGENTS']);
    expect(second.map((info) => info.config)).toEqual(first.map((info) => info.config));
    const usage = await jsm.streams.info('USAGE');
    expect(usage.config.subjects).toEqual(['usage.>']);
    expect(usage.config.storage).toBe(StorageType.File);
    expect(usage.config.duplicate_window).toBeGreaterThan(0);
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
});
