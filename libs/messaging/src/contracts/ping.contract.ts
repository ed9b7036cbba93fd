// Reply to `<service>.ping` (see pingSubject): who answered, which build, for how long it has been up.

import { ContractFieldReader } from './contract-field.reader';

export interface PingReplyV1 {
  v: 1;
  /** Service name, e.g. `auth`. */
  service: string;
  /** Process instance id (host + pid or a random id), to tell replicas apart. */
  instance: string;
  /** Build version of the service. */
  version: string;
  uptimeSeconds: number;
  /** ISO 8601 time of the reply. */
  time: string;
}

export function parsePingReplyV1(raw: unknown): PingReplyV1 {
  const r = new ContractFieldReader('PingReplyV1', raw);
  return {
    v: r.version(1),
    service: r.string('service', 64),
    instance: r.string('instance', 256),
    version: r.string('version', 64),
    uptimeSeconds: r.number('uptimeSeconds', { min: 0 }),
    time: r.timestamp('time'),
  };
}
