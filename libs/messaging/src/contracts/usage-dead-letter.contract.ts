// A usage event billing refused (not JSON, not a valid UsageEventV1), published on `billing.usage.dead_letter`
// (BILLING_USAGE_DEAD_LETTER). The message was terminated on the stream; nothing was billed for it.

import { ContractFieldReader } from './contract-field.reader';

export interface UsageDeadLetterV1 {
  v: 1;
  /** Subject it arrived on (`usage.<source>`). */
  subject: string;
  /** Sequence of the message in stream USAGE. */
  streamSequence: number;
  /** What was wrong with it. */
  reason: string;
  /** The start of the raw payload (at most 2 000 characters), for operators. */
  payload: string;
  /** ISO 8601. */
  deadLetteredAt: string;
}

export function parseUsageDeadLetterV1(raw: unknown): UsageDeadLetterV1 {
  const r = new ContractFieldReader('UsageDeadLetterV1', raw);
  return {
    v: r.version(1),
    subject: r.string('subject', 256),
    streamSequence: r.number('streamSequence', { min: 0, integer: true }),
    reason: r.string('reason', 1024),
    payload:
      typeof (raw as Record<string, unknown>)['payload'] === 'string'
        ? ((raw as Record<string, unknown>)['payload'] as string).slice(0, 2000)
        : r.fail('payload', 'must be a string'),
    deadLetteredAt: r.timestamp('deadLetteredAt'),
  };
}
