// Declares SOVREN's JetStream streams and makes the server match them at start-up, idempotently:
// a missing stream is created, a drifted one is updated, an identical one is left alone, and a stream whose
// retention changed (which JetStream cannot change in place) is recreated once nothing in it is left unconsumed.

import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  NatsError,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { AGENTS_ALL, AUDIT_ALL, BILLING_TIER_CHANGED, CALLS_ALL, USAGE_ALL } from './subjects';

export const STREAM_USAGE = 'USAGE';
export const STREAM_CALLS = 'CALLS';
export const STREAM_AUDIT = 'AUDIT';
export const STREAM_AGENTS = 'AGENTS';
export const STREAM_BILLING_TIER = 'BILLING_TIER';

const GIB = 1024 ** 3;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The fields of a stream this module manages; everything else keeps the server default. */
export type SovrenStreamConfig = Pick<
  StreamConfig,
  | 'name'
  | 'description'
  | 'subjects'
  | 'storage'
  | 'retention'
  | 'discard'
  | 'max_age'
  | 'max_bytes'
  | 'max_msg_size'
  | 'duplicate_window'
  | 'num_replicas'
>;

/** Limits an operator may set (SOVREN_NATS_USAGE_MAX_BYTES); everything else is fixed here. */
export interface SovrenStreamLimits {
  /** max_bytes of stream USAGE (default 2 GiB). */
  usageMaxBytes?: number;
}

export const DEFAULT_USAGE_MAX_BYTES = 2 * GIB;

/**
 * SOVREN's streams. Limits are sized for one server; `duplicate_window` is how long a repeated msgID
 * (the event id) is recognised and dropped, which is what makes a producer's retry safe.
 */
export function sovrenStreams(limits: SovrenStreamLimits = {}): SovrenStreamConfig[] {
  return [
    {
      name: STREAM_USAGE,
      description: 'Billable usage events, consumed by billing exactly once',
      subjects: [USAGE_ALL],
      storage: StorageType.File,
      // Work queue: a message leaves the stream once billing acknowledged it (it is in billing's ledger by then),
      // so the limits bound the backlog, not the history; billing's durable consumer is the only one allowed.
      retention: RetentionPolicy.Workqueue,
      // Refuse new events when full instead of silently dropping unbilled old ones: the producer sees the error.
      discard: DiscardPolicy.New,
      max_age: nanos(30 * DAY_MS),
      max_bytes: limits.usageMaxBytes ?? DEFAULT_USAGE_MAX_BYTES,
      max_msg_size: 64 * 1024,
      // Long enough to cover a producer that restarts and re-sends its unacknowledged events.
      duplicate_window: nanos(10 * 60 * 1000),
      num_replicas: 1,
    },
    {
      name: STREAM_CALLS,
      description: 'Call lifecycle events from the voice service',
      subjects: [CALLS_ALL],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(30 * DAY_MS),
      max_bytes: 1 * GIB,
      max_msg_size: 256 * 1024,
      duplicate_window: nanos(2 * 60 * 1000),
      num_replicas: 1,
    },
    {
      name: STREAM_AUDIT,
      description: 'Audit events: who changed what',
      subjects: [AUDIT_ALL],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(365 * DAY_MS),
      max_bytes: 2 * GIB,
      max_msg_size: 256 * 1024,
      duplicate_window: nanos(2 * 60 * 1000),
      num_replicas: 1,
    },
    {
      name: STREAM_AGENTS,
      description: 'Messages between the platform agents',
      subjects: [AGENTS_ALL],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(1 * DAY_MS),
      max_bytes: 512 * 1024 ** 2,
      max_msg_size: 256 * 1024,
      duplicate_window: nanos(2 * 60 * 1000),
      num_replicas: 1,
    },
    {
      name: STREAM_BILLING_TIER,
      description: "Owners' billing standing changes, consumed by auth",
      subjects: [BILLING_TIER_CHANGED],
      storage: StorageType.File,
      // Kept until auth acknowledged it: a change made while auth is down is applied when it comes back.
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      max_age: nanos(30 * DAY_MS),
      max_bytes: 64 * 1024 ** 2,
      max_msg_size: 16 * 1024,
      duplicate_window: nanos(10 * 60 * 1000),
      num_replicas: 1,
    },
  ];
}

/** The streams with their default limits. */
export const SOVREN_STREAMS: readonly SovrenStreamConfig[] = sovrenStreams();

/** JetStream API error codes (err_code) we act on. */
const JS_STREAM_NOT_FOUND = 10059;
const JS_CONSUMER_NOT_FOUND = 10014;

function isApiError(error: unknown, errCode: number): boolean {
  return error instanceof NatsError && error.api_error?.err_code === errCode;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function drift<T extends object>(desired: T, actual: Partial<T>): string[] {
  return (Object.keys(desired) as Array<keyof T>)
    .filter((key) => desired[key] !== undefined && !sameValue(desired[key], actual[key]))
    .map(String);
}

/**
 * Creates or updates every stream in `streams` (default SOVREN_STREAMS). Idempotent: running it twice leaves
 * the same streams and does not fail. One stream that cannot be reconciled does not keep the others from being
 * set up; the error naming it (or them) is thrown once all were tried.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  streams: readonly SovrenStreamConfig[] = SOVREN_STREAMS,
): Promise<StreamInfo[]> {
  const results: StreamInfo[] = [];
  const failures: Error[] = [];
  for (const desired of streams) {
    try {
      results.push(await ensureStream(jsm, desired));
    } catch (error) {
      failures.push(error instanceof Error ? error : new Error(String(error)));
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
  return results;
}

async function ensureStream(jsm: JetStreamManager, desired: SovrenStreamConfig): Promise<StreamInfo> {
  let existing: StreamInfo | undefined;
  try {
    existing = await jsm.streams.info(desired.name);
  } catch (error) {
    if (!isApiError(error, JS_STREAM_NOT_FOUND)) {
      throw new Error(`JetStream: cannot read stream ${desired.name}: ${String(error)}`, { cause: error });
    }
  }
  try {
    if (!existing) return await jsm.streams.add(desired);
    const changed = drift(desired, existing.config);
    if (changed.length === 0) return existing;
    if (changed.includes('storage')) {
      throw new StreamSetupError(
        `JetStream stream ${desired.name} exists with a different storage; ` +
          'this cannot be changed in place (back up, delete and recreate the stream)',
      );
    }
    if (changed.includes('retention')) return await recreateWithRetention(jsm, existing, desired);
    return await jsm.streams.update(desired.name, desired);
  } catch (error) {
    if (error instanceof StreamSetupError) throw error;
    throw new Error(`JetStream: cannot create or update stream ${desired.name}: ${String(error)}`, { cause: error });
  }
}

class StreamSetupError extends Error {}

/**
 * JetStream cannot change a stream's retention in place. An existing stream (e.g. USAGE under limits retention,
 * before it became a work queue) is recreated only when nothing in it is unconsumed: it first stops taking new
 * messages (its subjects are parked, so a publish in between fails and is retried by its producer instead of
 * landing in a stream about to be deleted), then every consumer must have acknowledged its last message; if one
 * has not, the subjects are given back and the stream is left as it is, with an error naming what is missing.
 * The new stream continues the old one's sequence numbers (consumers' ledgers key on them).
 */
async function recreateWithRetention(
  jsm: JetStreamManager,
  existing: StreamInfo,
  desired: SovrenStreamConfig,
): Promise<StreamInfo> {
  const name = desired.name;
  const parked = (existing.config.subjects ?? []).map((subject) => `sovren-retired.${name}.${subject}`);
  await jsm.streams.update(name, { ...existing.config, subjects: parked });
  const frozen = await jsm.streams.info(name);
  const unconsumed = await unconsumedBy(jsm, frozen);
  if (unconsumed.length > 0) {
    await jsm.streams.update(name, existing.config);
    throw new StreamSetupError(
      `JetStream stream ${name} has ${existing.config.retention} retention and must become ${desired.retention}, ` +
        `which needs a new stream; left as it is because ${unconsumed.join('; ')} ` +
        '(it is recreated at the next start once its consumers have caught up)',
    );
  }
  await jsm.streams.delete(name);
  const created = await jsm.streams.add(desired);
  const next = frozen.state.last_seq + 1;
  if (next > 1) await jsm.streams.purge(name, { seq: next });
  return created.state.last_seq === frozen.state.last_seq ? created : await jsm.streams.info(name);
}

/** What keeps `stream` from being dropped: messages no consumer acknowledged (or no consumer at all). */
async function unconsumedBy(jsm: JetStreamManager, stream: StreamInfo): Promise<string[]> {
  if (stream.state.messages === 0) return [];
  const consumers = await jsm.consumers.list(stream.config.name).next();
  if (consumers.length === 0) return [`it holds ${stream.state.messages} messages and has no consumer`];
  return consumers
    .filter((c) => c.num_pending + c.num_ack_pending > 0)
    .map(
      (c) =>
        `consumer ${c.name} has acknowledged up to ${c.ack_floor.stream_seq} of ${stream.state.last_seq} ` +
        `(${c.num_pending} pending, ${c.num_ack_pending} unacknowledged)`,
    );
}

/** A durable consumer definition: the durable name is required, the rest defaults to explicit acks from the start. */
export type DurableConsumerConfig = Partial<ConsumerConfig> & { durable_name: string };

/**
 * Creates the durable consumer on `stream`, or updates it when its settings drifted. Idempotent.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: DurableConsumerConfig,
): Promise<ConsumerInfo> {
  const desired: Partial<ConsumerConfig> = {
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ...config,
  };
  const durable = config.durable_name;
  let existing: ConsumerInfo | undefined;
  try {
    existing = await jsm.consumers.info(stream, durable);
  } catch (error) {
    if (!isApiError(error, JS_CONSUMER_NOT_FOUND)) {
      throw new Error(`JetStream: cannot read consumer ${durable} on ${stream}: ${String(error)}`, { cause: error });
    }
  }
  try {
    if (!existing) return await jsm.consumers.add(stream, desired);
    if (drift(desired, existing.config).length === 0) return existing;
    return await jsm.consumers.update(stream, durable, desired);
  } catch (error) {
    throw new Error(`JetStream: cannot create or update consumer ${durable} on ${stream}: ${String(error)}`, {
      cause: error,
    });
  }
}
