// Speech synthesis for other services on `inference.synthesize` (INFERENCE_SYNTHESIZE), the voice service first.
// The request names a stream subject (the caller's `_INBOX.` subject, subscribed before sending). The service
// replies at once (accepted, with the subject that cancels the request, or refused), then publishes
// InferenceSynthesizeChunkV1 messages in order — 16-bit little-endian mono PCM at the accepted sample rate, base64 —
// clause by clause as they are synthesised, and exactly one InferenceSynthesizeFinalV1.

import { ContractFieldReader } from './contract-field.reader';
import { INFERENCE_FINISH_REASONS, type InferenceFinishReason } from './inference-generate.contract';

/** The most characters one request may carry (as OpenAI's /v1/audio/speech). */
export const INFERENCE_SYNTHESIZE_MAX_CHARS = 4096;

export interface InferenceSynthesizeRequestV1 {
  v: 1;
  /** Caller's id for this request (one NATS subject token); also the usage event's requestId. */
  requestId: string;
  /** Account billed for the characters. */
  ownerId: string;
  keyId?: string;
  /** A model folder under `<SOVREN_ROOT>/models/tts`. */
  model: string;
  voice: string;
  /** The text to speak (1 to 4 096 characters). */
  input: string;
  /** 0.25 – 4, default 1. */
  speed?: number;
  /** PCM sample rate wanted (8 000 – 48 000; default the model's, 24 000 for Kokoro). Telephony asks for 8 000. */
  sampleRate?: number;
  /** Where chunks and the final message are published: the caller's inbox (`_INBOX.…`). */
  streamSubject: string;
}

export interface InferenceSynthesizeAcceptedV1 {
  v: 1;
  accepted: true;
  requestId: string;
  /** Sample rate of every chunk. */
  sampleRate: number;
  /** Publish anything here to cancel; the stream then ends with finishReason `cancelled` at the next chunk. */
  cancelSubject: string;
}

export interface InferenceSynthesizeRefusedV1 {
  v: 1;
  accepted: false;
  requestId: string;
  /** Same codes as the HTTP API (`model_not_found`, `voice_not_found`, `input_too_long`, `queue_full`…). */
  error: { code: string; message: string };
}

export type InferenceSynthesizeReplyV1 = InferenceSynthesizeAcceptedV1 | InferenceSynthesizeRefusedV1;

export interface InferenceSynthesizeChunkV1 {
  v: 1;
  type: 'chunk';
  requestId: string;
  /** 0, 1, 2… so a consumer can notice a lost message. */
  index: number;
  /** Base64 of 16-bit little-endian mono PCM. */
  audio: string;
}

export interface InferenceSynthesizeFinalV1 {
  v: 1;
  type: 'final';
  requestId: string;
  finishReason: InferenceFinishReason;
  /** Chunks published before this message. */
  chunks: number;
  sampleRate: number;
  audioSeconds: number;
  /** Characters billed. */
  characters: number;
  error?: { code: string; message: string };
}

export type InferenceSynthesizeStreamMessageV1 = InferenceSynthesizeChunkV1 | InferenceSynthesizeFinalV1;

export function parseInferenceSynthesizeRequestV1(raw: unknown): InferenceSynthesizeRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceSynthesizeRequestV1', raw);
  const request: InferenceSynthesizeRequestV1 = {
    v: r.version(1),
    requestId: r.string('requestId', 128),
    ownerId: r.string('ownerId', 128),
    model: r.string('model', 128),
    voice: r.string('voice', 128),
    input: r.string('input', INFERENCE_SYNTHESIZE_MAX_CHARS),
    streamSubject: r.string('streamSubject', 256),
  };
  if (/[.*>\s]/.test(request.requestId)) r.fail('requestId', "must not contain '.', '*', '>' or whitespace");
  if (!/^_INBOX\.[^*>\s]+$/.test(request.streamSubject)) {
    r.fail('streamSubject', 'must be an _INBOX. subject without wildcards or whitespace');
  }
  const keyId = r.optionalString('keyId', 128);
  if (keyId !== undefined) request.keyId = keyId;
  const speed = r.optionalNumber('speed', { min: 0.25 });
  if (speed !== undefined) {
    if (speed > 4) r.fail('speed', 'must be <= 4');
    request.speed = speed;
  }
  const sampleRate = r.optionalNumber('sampleRate', { min: 8_000, integer: true });
  if (sampleRate !== undefined) {
    if (sampleRate > 48_000) r.fail('sampleRate', 'must be <= 48000');
    request.sampleRate = sampleRate;
  }
  return request;
}

function parseError(raw: Record<string, unknown>, contract: string): { code: string; message: string } {
  const e: ContractFieldReader = new ContractFieldReader(contract, raw);
  return { code: e.string('code', 64), message: e.string('message', 2048) };
}

export function parseInferenceSynthesizeReplyV1(raw: unknown): InferenceSynthesizeReplyV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceSynthesizeReplyV1', raw);
  const v = r.version(1);
  const requestId = r.string('requestId', 128);
  const accepted = (raw as Record<string, unknown>)['accepted'];
  if (typeof accepted !== 'boolean') r.fail('accepted', 'must be true or false');
  if (accepted) {
    return {
      v,
      accepted,
      requestId,
      sampleRate: r.number('sampleRate', { min: 1, integer: true }),
      cancelSubject: r.string('cancelSubject', 256),
    };
  }
  return { v, accepted, requestId, error: parseError(r.object('error'), 'InferenceSynthesizeRefusedV1.error') };
}

export function parseInferenceSynthesizeStreamMessageV1(raw: unknown): InferenceSynthesizeStreamMessageV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceSynthesizeStreamMessageV1', raw);
  const v = r.version(1);
  const type = r.oneOf('type', ['chunk', 'final'] as const);
  const requestId = r.string('requestId', 128);
  if (type === 'chunk') {
    return {
      v,
      type,
      requestId,
      index: r.number('index', { min: 0, integer: true }),
      audio: r.string('audio', 64 << 20),
    };
  }
  const final: InferenceSynthesizeFinalV1 = {
    v,
    type,
    requestId,
    finishReason: r.oneOf('finishReason', INFERENCE_FINISH_REASONS),
    chunks: r.number('chunks', { min: 0, integer: true }),
    sampleRate: r.number('sampleRate', { min: 1, integer: true }),
    audioSeconds: r.number('audioSeconds', { min: 0 }),
    characters: r.number('characters', { min: 0, integer: true }),
  };
  const error = r.optionalObject('error');
  if (error !== undefined) final.error = parseError(error, 'InferenceSynthesizeFinalV1.error');
  return final;
}
