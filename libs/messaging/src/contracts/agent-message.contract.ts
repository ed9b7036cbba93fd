// A message between the platform's agents on `agents.<target>` (JetStream stream AGENTS).
// The checksum covers timestamp, source, target and payload so a corrupted or altered message is refused.

import { createHash } from 'node:crypto';
import { ContractFieldReader } from './contract-field.reader';

export const AGENT_NAMES = ['strike', 'intel', 'ops', 'sentinel', 'command'] as const;
export type AgentName = (typeof AGENT_NAMES)[number];
/** A target may also be every agent at once. */
export type AgentTarget = AgentName | 'all';

export interface AgentMessageV1 {
  v: 1;
  /** Nanoseconds since the Unix epoch as a decimal string: beyond Number's exact range. */
  timestampNs: string;
  source: AgentName;
  target: AgentTarget;
  payload: unknown;
  /** Hex SHA-256 of the canonical form (see agentMessageChecksum). */
  checksum: string;
}

/** JSON with object keys sorted at every level, so the checksum does not depend on key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function agentMessageChecksum(message: Omit<AgentMessageV1, 'checksum' | 'v'>): string {
  const canonical = `${message.timestampNs}|${message.source}|${message.target}|${canonicalJson(message.payload)}`;
  return createHash('sha256').update(canonical).digest('hex');
}

/** Builds a message with the current time in nanoseconds and its checksum. */
export function createAgentMessageV1(source: AgentName, target: AgentTarget, payload: unknown): AgentMessageV1 {
  const timestampNs = (BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString();
  const body = { timestampNs, source, target, payload };
  return { v: 1, ...body, checksum: agentMessageChecksum(body) };
}

export function parseAgentMessageV1(raw: unknown): AgentMessageV1 {
  const r = new ContractFieldReader('AgentMessageV1', raw);
  const message: AgentMessageV1 = {
    v: r.version(1),
    timestampNs: r.decimalString('timestampNs'),
    source: r.oneOf('source', AGENT_NAMES),
    target: r.oneOf('target', [...AGENT_NAMES, 'all'] as const),
    payload: r.present('payload'),
    checksum: r.string('checksum', 64),
  };
  if (message.checksum !== agentMessageChecksum(message)) {
    r.fail('checksum', 'does not match the message content');
  }
  return message;
}
