// A billable usage event on `usage.<source>` (JetStream stream USAGE), consumed by billing exactly once.
// `eventId` doubles as the JetStream message id, so a retried publish is de-duplicated by the stream, and billing's
// ledger is unique on it. One event carries every unit one request used (an LLM request: tokens in and out).

import { ContractFieldReader } from './contract-field.reader';

/** The billable units; the names match the usage units of the Kill Bill catalog (deploy/killbill/catalog.xml). */
export const USAGE_UNITS = [
  'llm_tokens_in',
  'llm_tokens_out',
  'asr_seconds',
  'tts_characters',
  'call_minutes',
] as const;
export type UsageUnit = (typeof USAGE_UNITS)[number];

export type UsageQuantities = Partial<Record<UsageUnit, number>>;

export const USAGE_FINISH_REASONS = ['stop', 'length', 'cancelled', 'error'] as const;
export type UsageFinishReason = (typeof USAGE_FINISH_REASONS)[number];

/** What an LLM request did, for reconciliation and dashboards (billing bills `quantities` only). */
export interface LlmUsageDetailV1 {
  model: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: UsageFinishReason;
  /** Time spent waiting for a batch slot. */
  queueMs: number;
  /** From acceptance to the first generated token (absent when none was generated). */
  timeToFirstTokenMs?: number;
  /** From acceptance to the end of the request. */
  durationMs: number;
}

/** What a voice call did (billing bills `quantities.call_minutes`; this is for reconciliation). */
export interface CallUsageDetailV1 {
  callId: string;
  direction: 'inbound' | 'outbound';
  /** From answer to hang-up. */
  durationMs: number;
}

/** What a speech synthesis request did (billing bills `quantities.tts_characters`; this is for reconciliation). */
export interface TtsUsageDetailV1 {
  model: string;
  voice: string;
  characters: number;
  /** Seconds of audio produced. */
  audioSeconds: number;
  finishReason: UsageFinishReason;
  /** From acceptance to the first audio chunk (absent when none was produced). */
  timeToFirstAudioMs?: number;
  durationMs: number;
}

export interface UsageEventV1 {
  v: 1;
  /** Unique id of this event (a UUID); also the JetStream `msgID` used for de-duplication. */
  eventId: string;
  /** The request that caused the usage (X-Request-Id), for tracing. */
  requestId: string;
  /** Account that is billed (a user or organisation id from auth). */
  ownerId: string;
  /** API key used, when the request came with one. */
  keyId?: string;
  /** Producing component, also the last subject token: `inference`, `voice`… */
  source: string;
  /** Non-negative amounts per unit; at least one unit is present. */
  quantities: UsageQuantities;
  llm?: LlmUsageDetailV1;
  tts?: TtsUsageDetailV1;
  call?: CallUsageDetailV1;
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
    quantities: parseQuantities(r),
    occurredAt: r.timestamp('occurredAt'),
  };
  // Optional fields are only set when present so that the parsed object round-trips unchanged.
  const keyId = r.optionalString('keyId', 128);
  if (keyId !== undefined) event.keyId = keyId;
  const llm = r.optionalObject('llm');
  if (llm !== undefined) event.llm = parseLlmDetail(llm);
  const tts = r.optionalObject('tts');
  if (tts !== undefined) event.tts = parseTtsDetail(tts);
  const call = r.optionalObject('call');
  if (call !== undefined) {
    const c = new ContractFieldReader('UsageEventV1.call', call);
    event.call = {
      callId: c.string('callId', 128),
      direction: c.oneOf('direction', ['inbound', 'outbound'] as const),
      durationMs: c.number('durationMs', { min: 0 }),
    };
  }
  return event;
}

function parseQuantities(r: ContractFieldReader): UsageQuantities {
  const raw = r.object('quantities');
  const quantities: UsageQuantities = {};
  for (const [unit, amount] of Object.entries(raw)) {
    if (!(USAGE_UNITS as readonly string[]).includes(unit)) {
      r.fail(`quantities.${unit}`, `is not a usage unit (one of ${USAGE_UNITS.join(', ')})`);
    }
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      r.fail(`quantities.${unit}`, 'must be a finite number >= 0');
    }
    quantities[unit as UsageUnit] = amount;
  }
  if (Object.keys(quantities).length === 0) {
    r.fail('quantities', 'must name at least one usage unit');
  }
  return quantities;
}

function parseLlmDetail(raw: Record<string, unknown>): LlmUsageDetailV1 {
  const r = new ContractFieldReader('UsageEventV1.llm', raw);
  const detail: LlmUsageDetailV1 = {
    model: r.string('model', 256),
    promptTokens: r.number('promptTokens', { min: 0, integer: true }),
    completionTokens: r.number('completionTokens', { min: 0, integer: true }),
    finishReason: r.oneOf('finishReason', USAGE_FINISH_REASONS),
    queueMs: r.number('queueMs', { min: 0 }),
    durationMs: r.number('durationMs', { min: 0 }),
  };
  const ttft = r.optionalNumber('timeToFirstTokenMs', { min: 0 });
  if (ttft !== undefined) detail.timeToFirstTokenMs = ttft;
  return detail;
}

function parseTtsDetail(raw: Record<string, unknown>): TtsUsageDetailV1 {
  const r = new ContractFieldReader('UsageEventV1.tts', raw);
  const detail: TtsUsageDetailV1 = {
    model: r.string('model', 256),
    voice: r.string('voice', 128),
    characters: r.number('characters', { min: 0, integer: true }),
    audioSeconds: r.number('audioSeconds', { min: 0 }),
    finishReason: r.oneOf('finishReason', USAGE_FINISH_REASONS),
    durationMs: r.number('durationMs', { min: 0 }),
  };
  const ttfa = r.optionalNumber('timeToFirstAudioMs', { min: 0 });
  if (ttfa !== undefined) detail.timeToFirstAudioMs = ttfa;
  return detail;
}
