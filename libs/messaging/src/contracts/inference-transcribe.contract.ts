// Speech recognition for other services on `inference.transcribe` (INFERENCE_TRANSCRIBE), the voice service first:
// request/reply. The request carries one utterance as 16-bit little-endian mono PCM at 16 kHz, base64 (at most
// 30 s); the reply carries the transcript, its language, its segments and the timings, or an error with the same
// codes as POST /v1/audio/transcriptions. One usage event (asr_seconds) is published per transcribed request.

import { ContractFieldReader } from './contract-field.reader';

/** Request/reply subject of this contract. */
export const INFERENCE_TRANSCRIBE = 'inference.transcribe';
export const INFERENCE_TRANSCRIBE_SAMPLE_RATE = 16_000;
/** The longest utterance one request may carry (Whisper's 30 s window). */
export const INFERENCE_TRANSCRIBE_MAX_SECONDS = 30;
/** Base64 of 30 s of 16-bit PCM at 16 kHz, with padding. */
const MAX_AUDIO_BASE64 = Math.ceil((INFERENCE_TRANSCRIBE_MAX_SECONDS * INFERENCE_TRANSCRIBE_SAMPLE_RATE * 2) / 3) * 4;

export interface InferenceTranscribeRequestV1 {
  v: 1;
  /** Caller's id for this request; also the usage event's requestId. */
  requestId: string;
  /** Account billed for the audio seconds. */
  ownerId: string;
  keyId?: string;
  /** A Whisper model of `<SOVREN_ROOT>/models/whisper` (`base.en` for ggml-base.en.bin). */
  model: string;
  /** Base64 of 16-bit little-endian mono PCM at 16 kHz; 1 sample to 30 s. */
  audio: string;
  /** ISO code; absent: detected. */
  language?: string;
  /** Previous text to condition on (Whisper's initial_prompt), at most 4 096 characters. */
  prompt?: string;
  /** Segment timestamps (default false). */
  timestamps?: boolean;
}

export interface InferenceTranscribeSegmentV1 {
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  text: string;
}

export interface InferenceTranscribeResultV1 {
  v: 1;
  ok: true;
  requestId: string;
  text: string;
  language: string;
  segments: InferenceTranscribeSegmentV1[];
  audioSeconds: number;
  timings: { encodeMs: number; decodeMs: number; totalMs: number };
}

export interface InferenceTranscribeFailedV1 {
  v: 1;
  ok: false;
  requestId: string;
  /** Same codes as the HTTP API (`model_not_found`, `invalid_audio`, `audio_too_long`, ...). */
  error: { code: string; message: string };
}

export type InferenceTranscribeReplyV1 = InferenceTranscribeResultV1 | InferenceTranscribeFailedV1;

export function parseInferenceTranscribeRequestV1(raw: unknown): InferenceTranscribeRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceTranscribeRequestV1', raw);
  const request: InferenceTranscribeRequestV1 = {
    v: r.version(1),
    requestId: r.string('requestId', 128),
    ownerId: r.string('ownerId', 128),
    model: r.string('model', 128),
    audio: r.string('audio', MAX_AUDIO_BASE64),
  };
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(request.audio) || request.audio.length % 4 !== 0) {
    r.fail('audio', 'must be base64');
  }
  const keyId = r.optionalString('keyId', 128);
  if (keyId !== undefined) request.keyId = keyId;
  const language = r.optionalString('language', 8);
  if (language !== undefined) request.language = language;
  const prompt = r.optionalString('prompt', 4096);
  if (prompt !== undefined) request.prompt = prompt;
  const timestamps = (raw as Record<string, unknown>)['timestamps'];
  if (timestamps !== undefined) {
    if (typeof timestamps !== 'boolean') r.fail('timestamps', 'must be true or false');
    request.timestamps = timestamps;
  }
  return request;
}

export function parseInferenceTranscribeReplyV1(raw: unknown): InferenceTranscribeReplyV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceTranscribeReplyV1', raw);
  const v = r.version(1);
  const requestId = r.string('requestId', 128);
  const ok = (raw as Record<string, unknown>)['ok'];
  if (typeof ok !== 'boolean') r.fail('ok', 'must be true or false');
  if (!ok) {
    const e = new ContractFieldReader('InferenceTranscribeFailedV1.error', r.object('error'));
    return { v, ok, requestId, error: { code: e.string('code', 64), message: e.string('message', 2048) } };
  }
  const segments = (raw as Record<string, unknown>)['segments'];
  if (!Array.isArray(segments)) r.fail('segments', 'must be an array');
  const timings = new ContractFieldReader('InferenceTranscribeResultV1.timings', r.object('timings'));
  return {
    v,
    ok,
    requestId,
    text: r.string('text', 1 << 20),
    language: r.string('language', 8),
    segments: segments.map((s: unknown, i: number) => {
      const seg = new ContractFieldReader(`InferenceTranscribeResultV1.segments[${i}]`, s);
      return {
        start: seg.number('start', { min: 0 }),
        end: seg.number('end', { min: 0 }),
        text: seg.string('text', 1 << 20),
      };
    }),
    audioSeconds: r.number('audioSeconds', { min: 0 }),
    timings: {
      encodeMs: timings.number('encodeMs', { min: 0 }),
      decodeMs: timings.number('decodeMs', { min: 0 }),
      totalMs: timings.number('totalMs', { min: 0 }),
    },
  };
}
