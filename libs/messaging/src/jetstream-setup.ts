// Declares SOVREN's JetStream streams and makes the server match them at start-up, idempotently:
// a missing stream is created, a drifted one is updated, an identical one is left alone.

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
import { AGENTS_ALL, AUDIT_ALL, CALLS_ALL, USAGE_ALL } from './subjects';

export const STREAM_USAGE = 'USAGE';
export const STREAM_CALLS = 'CALLS';
export const STREAM_AUDIT = 'AUDIT';
export const STREAM_AGENTS = 'AGENTS';

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

/**
 * SOVREN's streams. Limits are sized for one server; `duplicate_window` is how long a repeated msgID
 * (the event id) is recognised and dropped, which is what makes a producer's retry safe.
 */
export const SOVREN_STREAMS: readonly SovrenStreamConfig[] = [
  {
    name: STREAM_USAGE,
    description: 'Billable usage events, consumed by billing exactly once',
    subjects: [USAGE_ALL],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // Refuse new events when full instead of silently dropping unbilled old ones: the producer sees the error.
    discard: DiscardPolicy.New,
    max_age: nanos(30 * DAY_MS),
    max_bytes: 2 * GIB,
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
];

/** Stream settings the server cannot change on an existing stream. */
const IMMUTABLE_STREAM_FIELDS = ['storage', 'retention'] as const;

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
 * the same streams and does not fail. Throws an error naming the stream when one cannot be reconciled.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  streams: readonly SovrenStreamConfig[] = SOVREN_STREAMS,
): Promise<StreamInfo[]> {
  const results: StreamInfo[] = [];
  for (const desired of streams) {
    results.push(await ensureStream(jsm, desired));
  }
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
    const immutable = IMMUTABLE_STREAM_FIELDS.filter((field) => changed.includes(field));
    if (immutable.length > 0) {
      throw new Error(
        `JetStream stream ${desired.name} exists with a different ${immutable.join(', ')}; ` +
          'these cannot be changed in place (back up, delete and recreate the stream)',
      );
    }
    return await jsm.streams.update(desired.name, desired);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('JetStream stream')) throw error;
    throw new Error(`JetStream: cannot create or update stream ${desired.name}: ${String(error)}`, { cause: error });
  }
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
