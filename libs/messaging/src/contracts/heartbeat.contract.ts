// Heartbeat every service publishes on `monitoring.heartbeat.<service>` (see heartbeatSubject).

import { ContractFieldReader } from './contract-field.reader';

export const HEARTBEAT_STATUSES = ['ok', 'degraded'] as const;
export type HeartbeatStatus = (typeof HEARTBEAT_STATUSES)[number];

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
}

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
    if (!Array.isArray(failing) || failing.length > MAX_FAILING || !failing.every((f) => typeof f === 'string' && f.length > 0 && f.length <= 64)) {
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
  return beat;
}
