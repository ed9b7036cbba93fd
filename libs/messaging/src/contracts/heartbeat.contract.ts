// Heartbeat every service publishes on `monitoring.heartbeat.<service>` (see heartbeatSubject).

import { ContractFieldReader } from './contract-field.reader';

export const HEARTBEAT_STATUSES = ['ok', 'degraded'] as const;
export type HeartbeatStatus = (typeof HEARTBEAT_STATUSES)[number];

/**
 * A Prometheus-style cumulative histogram: `cumulative[i]` observations were <= `le[i]` (ascending finite bounds),
 * `count` observations in all (the +Inf bucket). Totals since the process started.
 */
export interface CumulativeHistogramV1 {
  le: number[];
  cumulative: number[];
  count: number;
}

export interface HeartbeatV1 {
  v: 1;
  service: string;
  instance: string;
  version: string;
  /** `degraded` while a dependency (database, NATS stream…) is failing but the process is alive. */
  status: HeartbeatStatus;
  uptimeSeconds: number;
  /** ISO 8601 time the heartbeat was sent. */
  time: string;
  /** Seconds until the next heartbeat; monitoring flags the service after a few missed intervals. */
  intervalSeconds: number;
  /** Names of the dependencies failing readiness (`postgres`, `nats`…); present only while degraded. */
  failing?: string[];
  /** The first failing dependency's error, for the operator's status page. */
  lastError?: string;
  /** Cumulative HTTP requests served by this instance since it started (for monitoring's error-rate rule). */
  httpRequests?: number;
  /** Cumulative HTTP responses with a 5xx status since start. */
  httpServerErrors?: number;
  /** Inference only: inter-token latency in seconds over all models (monitoring's InferenceInterTokenSlow rule). */
  interTokenSeconds?: CumulativeHistogramV1;
}

const MAX_BUCKETS = 64;

const MAX_FAILING = 32;

export function parseHeartbeatV1(raw: unknown): HeartbeatV1 {
  const r = new ContractFieldReader('HeartbeatV1', raw);
  const beat: HeartbeatV1 = {
    v: r.version(1),
    service: r.string('service', 64),
    instance: r.string('instance', 256),
    version: r.string('version', 64),
    status: r.oneOf('status', HEARTBEAT_STATUSES),
    uptimeSeconds: r.number('uptimeSeconds', { min: 0 }),
    time: r.timestamp('time'),
    intervalSeconds: r.number('intervalSeconds', { min: 1 }),
  };
  // Optional fields are only set when present so that the parsed object round-trips unchanged.
  // The reader has accepted `raw` as a JSON object above.
  const failing = (raw as Record<string, unknown>)['failing'];
  if (failing !== undefined) {
    if (
      !Array.isArray(failing) ||
      failing.length > MAX_FAILING ||
      !failing.every((f) => typeof f === 'string' && f.length > 0 && f.length <= 64)
    ) {
      r.fail('failing', `must be an array of at most ${MAX_FAILING} non-empty dependency names`);
    }
    beat.failing = [...(failing as string[])];
  }
  const lastError = r.optionalString('lastError', 1024);
  if (lastError !== undefined) beat.lastError = lastError;
  const httpRequests = r.optionalNumber('httpRequests', { min: 0, integer: true });
  if (httpRequests !== undefined) beat.httpRequests = httpRequests;
  const httpServerErrors = r.optionalNumber('httpServerErrors', { min: 0, integer: true });
  if (httpServerErrors !== undefined) beat.httpServerErrors = httpServerErrors;
  const interToken = r.optionalObject('interTokenSeconds');
  if (interToken !== undefined) beat.interTokenSeconds = parseCumulativeHistogram(interToken, 'interTokenSeconds');
  return beat;
}

function parseCumulativeHistogram(raw: Record<string, unknown>, field: string): CumulativeHistogramV1 {
  const r = new ContractFieldReader(`HeartbeatV1.${field}`, raw);
  const count = r.number('count', { min: 0, integer: true });
  const numbers = (name: string): number[] => {
    const value = raw[name];
    if (
      !Array.isArray(value) ||
      value.length > MAX_BUCKETS ||
      !value.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)
    ) {
      r.fail(name, `must be an array of at most ${MAX_BUCKETS} finite numbers >= 0`);
    }
    return [...(value as number[])];
  };
  const le = numbers('le');
  const cumulative = numbers('cumulative');
  if (cumulative.length !== le.length) r.fail('cumulative', 'must have one entry per bound in le');
  for (let i = 1; i < le.length; i += 1) {
    if (le[i] <= le[i - 1]) r.fail('le', 'must be strictly ascending');
    if (cumulative[i] < cumulative[i - 1]) r.fail('cumulative', 'must not decrease');
  }
  if (cumulative.length > 0 && cumulative[cumulative.length - 1] > count)
    r.fail('count', 'must be >= every cumulative bucket');
  return { le, cumulative, count };
}
