// A billable usage event on `usage.<source>` (JetStream stream USAGE), consumed by billing exactly once.
// `eventId` doubles as the JetStream message id, so a retried publish is de-duplicated by the stream.

import { ContractFieldReader } from './contract-field.reader';

export const USAGE_UNITS = ['tokens', 'audio_seconds', 'call_minutes', 'characters', 'requests'] as const;
export type UsageUnit = (typeof USAGE_UNITS)[number];

export interface UsageEventV1 {
  v: 1;
  /** Unique id of this event (a UUID); also the JetStream `msgID` used for de-duplication. */
  eventId: string;
  /** The request that caused the usage (X-Request-Id), for tracing. */
  requestId: string;
  /** Account that is billed. */
  ownerId: string;
  /** API key used, when the request came with one. */
  keyId?: string;
  /** Producing component, also the last subject token: `inference`, `voice`… */
  source: string;
  model?: string;
  unit: UsageUnit;
  quantity: number;
  promptTokens?: number;
  completionTokens?: number;
  /** ISO 8601 time the usage happened (not when it was published). */
  occurredAt: string;
}

export function parseUsageEventV1(raw: unknown): UsageEventV1 {
  const r = new ContractFieldReader('UsageEventV1', raw);
  const event: UsageEventV1 = {
    v: r.version(1),
    eventId: r.string('eventId', 128),
    requestId: r.string('requestId', 128),
    ownerId: r.string('ownerId', 128),
    source: r.string('source', 64),
    unit: r.oneOf('unit', USAGE_UNITS),
    quantity: r.number('quantity', { min: 0 }),
    occurredAt: r.timestamp('occurredAt'),
  };
  // Optional fields are only set when present so that the parsed object round-trips unchanged.
  const keyId = r.optionalString('keyId', 128);
  if (keyId !== undefined) event.keyId = keyId;
  const model = r.optionalString('model', 256);
  if (model !== undefined) event.model = model;
  const promptTokens = r.optionalNumber('promptTokens', { min: 0, integer: true });
  if (promptTokens !== undefined) event.promptTokens = promptTokens;
  const completionTokens = r.optionalNumber('completionTokens', { min: 0, integer: true });
  if (completionTokens !== undefined) event.completionTokens = completionTokens;
  return event;
}
