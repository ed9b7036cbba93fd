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
}

export function parseHeartbeatV1(raw: unknown): HeartbeatV1 {
  const r = new ContractFieldReader('HeartbeatV1', raw);
  return {
    v: r.version(1),
    service: r.string('service', 64),
    instance: r.string('instance', 256),
    version: r.string('version', 64),
    status: r.oneOf('status', HEARTBEAT_STATUSES),
    uptimeSeconds: r.number('uptimeSeconds', { min: 0 }),
    time: r.timestamp('time'),
    intervalSeconds: r.number('intervalSeconds', { min: 1 }),
  };
}
