// TypeScript face of Whisper on the native engine: EngineWhisper.load(path) / transcribe(pcm, options). Concurrent
// transcribe() calls are batched: while one batch runs on the native thread, new calls queue, and the next batch
// takes them all (one encoder pass and one decoder step per token for the whole batch). Whisper's temperature
// fallback (compression ratio / average log-probability thresholds) re-queues an utterance at the next temperature.
import { gzipSync } from 'node:zlib';

import { loadEngineAddon } from '../engine';

export interface WhisperLoadOptions {
  /** Worker threads of the CPU backend (0 or absent: one per usable core). */
  threads?: number;
}

export interface WhisperSpecialTokens {
  eot: number;
  sot: number;
  firstLanguage: number;
  languageCount: number;
  translate: number;
  transcribe: number;
  startOfLm: number;
  previous: number;
  noSpeech: number;
  noTimestamps: number;
  timestampBegin: number;
}

export interface WhisperModelInfo {
  nVocab: number;
  nAudioCtx: number;
  nAudioState: number;
  nAudioHead: number;
  nAudioLayer: number;
  nTextCtx: number;
  nTextState: number;
  nTextHead: number;
  nTextLayer: number;
  nMels: number;
  ftype: number;
  multilingual: boolean;
  weightTypes: string;
  backend: string;
  threads: number;
  fileBytes: number;
  specialTokens: WhisperSpecialTokens;
}

export interface WhisperTranscribeOptions {
  /** ISO code ('en', 'de', ...); absent: detected (multilingual models). */
  language?: string;
  /**
   * Previous-text prompt (after <|startofprev|>): token ids, or text encoded as Whisper does (" " + text.trim(),
   * byte-level BPE over the model's ranks).
   */
  prompt?: string | readonly number[];
  /** Segment timestamps (Whisper's timestamp tokens). Default false. */
  timestamps?: boolean;
  /** Translate to English instead of transcribing. */
  translate?: boolean;
  /** Beam search width at temperature 0 (Whisper's beam_size; 1: greedy). Sampling temperatures draw one sequence. */
  beamSize?: number;
  /** One temperature, or the fallback ladder (default [0, 0.2, 0.4, 0.6, 0.8, 1.0]). */
  temperature?: number | readonly number[];
  /** Encoder window in positions (1..nAudioCtx; 2 frames of 10 ms each). Default: enough for the audio. */
  audioCtx?: number;
  /** Sampled tokens at most (default nTextCtx / 2). */
  maxTokens?: number;
  seed?: number;
  compressionRatioThreshold?: number;
  logprobThreshold?: number;
  /** Aborting cancels the utterance: the promise resolves with cancelled: true. */
  signal?: AbortSignal;
}

export interface WhisperSegment {
  start: number;
  end: number;
  text: string;
  tokens: number[];
}

export interface WhisperTranscription {
  text: string;
  language: string;
  segments: WhisperSegment[];
  tokens: number[];
  avgLogprob: number;
  noSpeechProb: number;
  compressionRatio: number;
  temperature: number;
  cancelled: boolean;
  audioSeconds: number;
  /** Milliseconds; encode and decode are shared by the utterances of a batch. */
  timings: { melMs: number; encodeMs: number; decodeMs: number; totalMs: number; batchSize: number };
}

interface NativeTranscribeEntry {
  pcm: Float32Array;
  language?: string;
  translate?: boolean;
  timestamps?: boolean;
  temperature?: number;
  beamSize?: number;
  seed?: number;
  maxTokens?: number;
  prompt?: number[];
  cancelId?: number;
}

interface NativeSegment {
  start: number;
  end: number;
  text: Buffer;
  tokens: number[];
}

interface NativeTranscribeResult {
  tokens: number[];
  text: Buffer;
  language: string;
  avgLogprob: number;
  noSpeechProb: number;
  cancelled: boolean;
  melMs: number;
  encodeMs: number;
  decodeMs: number;
  segments: NativeSegment[];
}

export interface NativeWhisperModel {
  info(): WhisperModelInfo;
  logMel(pcm: Float32Array, audioCtx?: number): Float32Array;
  encode(pcm: Float32Array, audioCtx?: number): Float32Array;
  logits(pcm: Float32Array, tokens: readonly number[], audioCtx?: number, chunk?: number): Float32Array;
  tokenBytes(ids: readonly number[]): Buffer;
  tokenize(text: string | Buffer): number[];
  transcribe(entries: NativeTranscribeEntry[], options: { audioCtx: number }): Promise<NativeTranscribeResult[]>;
  cancel(cancelId: number): void;
  close(): void;
  readonly closed: boolean;
}

interface WhisperAddon {
  loadWhisper(path: string, options: WhisperLoadOptions): Promise<NativeWhisperModel>;
}

export const WHISPER_SAMPLE_RATE = 16000;
export const WHISPER_MAX_SAMPLES = 30 * WHISPER_SAMPLE_RATE;
const DEFAULT_TEMPERATURES = [0, 0.2, 0.4, 0.6, 0.8, 1.0];
const DEFAULT_COMPRESSION_RATIO_THRESHOLD = 2.4;
const DEFAULT_LOGPROB_THRESHOLD = -1.0;
/** Most utterances in one native batch. */
export const WHISPER_MAX_BATCH = 32;

/** gzip compression ratio of the text's bytes, as Whisper's fallback measures repetition. */
export function compressionRatio(text: Buffer): number {
  if (text.length === 0) return 0;
  return text.length / gzipSync(text).length;
}

/** Encoder positions that cover `samples` of audio (whisper.cpp's reduced audio_ctx), at least `minimum`. */
export function audioCtxFor(samples: number, nAudioCtx: number, minimum = 64): number {
  const frames = Math.ceil(samples / 160) + 1;
  return Math.min(nAudioCtx, Math.max(minimum, Math.ceil(frames / 2)));
}

interface Pending {
  pcm: Float32Array;
  prompt: number[] | undefined;
  options: WhisperTranscribeOptions;
  temperatures: readonly number[];
  step: number;
  audioCtx: number;
  cancelId: number;
  started: number;
  cancelled: boolean;
  resolve: (t: WhisperTranscription) => void;
  reject: (e: Error) => void;
}

export class EngineWhisper {
  private readonly queue: Pending[] = [];
  private running = false;
  private nextCancelId = 1;
  private readonly modelInfo: WhisperModelInfo;

  private constructor(private readonly native: NativeWhisperModel) {
    this.modelInfo = native.info();
  }

  /** Maps and validates a whisper.cpp model file (ggml-*.bin) on a worker thread. */
  static async load(path: string, options: WhisperLoadOptions = {}): Promise<EngineWhisper> {
    const addon = loadEngineAddon() as unknown as WhisperAddon;
    return new EngineWhisper(await addon.loadWhisper(path, options));
  }

  info(): WhisperModelInfo {
    return this.modelInfo;
  }

  get closed(): boolean {
    return this.native.closed;
  }

  /** Inspection for tests and tools (synchronous): the log-mel window [2 * audioCtx][nMels], time-major. */
  logMel(pcm: Float32Array, audioCtx?: number): Float32Array {
    return this.native.logMel(pcm, audioCtx);
  }

  /** Encoder output [audioCtx][nAudioState] (synchronous). */
  encode(pcm: Float32Array, audioCtx?: number): Float32Array {
    return this.native.encode(pcm, audioCtx);
  }

  /** Decoder logits [tokens.length][nVocab] over `tokens` from position 0, fed `chunk` tokens per step. */
  logits(pcm: Float32Array, tokens: readonly number[], audioCtx?: number, chunk?: number): Float32Array {
    return this.native.logits(pcm, tokens, audioCtx, chunk);
  }

  /** Byte-level BPE token ids of the text's UTF-8 bytes (or of raw bytes), as tiktoken encodes them. */
  tokenize(text: string | Buffer): number[] {
    return this.native.tokenize(text);
  }

  /** The bytes of the regular tokens among `ids`. */
  tokenBytes(ids: readonly number[]): Buffer {
    return this.native.tokenBytes(ids);
  }

  /** The bytes of the regular tokens among `ids`, as UTF-8 text. */
  detokenize(ids: readonly number[]): string {
    return this.native.tokenBytes(ids).toString('utf8');
  }

  /** Transcribes 16 kHz mono samples (at most 30 s). */
  transcribe(pcm: Float32Array, options: WhisperTranscribeOptions = {}): Promise<WhisperTranscription> {
    if (this.native.closed) return Promise.reject(new Error('whisper model is closed'));
    if (!(pcm instanceof Float32Array)) return Promise.reject(new TypeError('pcm must be a Float32Array'));
    if (pcm.length === 0) return Promise.reject(new RangeError('audio is empty'));
    if (pcm.length > WHISPER_MAX_SAMPLES) return Promise.reject(new RangeError('audio is longer than 30 s'));
    if (
      options.beamSize !== undefined &&
      !(Number.isInteger(options.beamSize) && options.beamSize >= 1 && options.beamSize <= 16)
    ) {
      return Promise.reject(new RangeError('beamSize must be an integer in 1..16'));
    }
    const temperatures =
      options.temperature === undefined
        ? DEFAULT_TEMPERATURES
        : typeof options.temperature === 'number'
          ? [options.temperature]
          : options.temperature;
    if (temperatures.length === 0 || temperatures.some((t) => !(t >= 0 && t <= 2))) {
      return Promise.reject(new RangeError('temperature must be in 0..2'));
    }
    const nAudioCtx = this.modelInfo.nAudioCtx;
    const audioCtx = options.audioCtx ?? audioCtxFor(pcm.length, nAudioCtx);
    if (!Number.isInteger(audioCtx) || audioCtx < 1 || audioCtx > nAudioCtx) {
      return Promise.reject(new RangeError(`audioCtx must be an integer in 1..${nAudioCtx}`));
    }
    let prompt: number[] | undefined;
    try {
      prompt = this.promptTokens(options.prompt);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    return new Promise<WhisperTranscription>((resolve, reject) => {
      const p: Pending = {
        pcm,
        prompt,
        options,
        temperatures,
        step: 0,
        audioCtx,
        cancelId: this.nextCancelId++,
        started: performance.now(),
        cancelled: false,
        resolve,
        reject,
      };
      const signal = options.signal;
      if (signal) {
        const onAbort = (): void => {
          p.cancelled = true;
          this.native.cancel(p.cancelId);
        };
        if (signal.aborted) p.cancelled = true;
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      this.queue.push(p);
      // Calls made in the same tick (Promise.all over many utterances) start together in one batch.
      queueMicrotask(() => this.pump());
    });
  }

  /** Cancels every queued and running transcription and frees the model (running batches finish first). */
  close(): void {
    for (const p of this.queue.splice(0)) p.reject(new Error('whisper model closed'));
    this.native.close();
  }

  private pump(): void {
    // Utterances cancelled while queued end here, without a native call.
    for (let i = 0; i < this.queue.length; ) {
      const p = this.queue[i];
      if (p.cancelled) {
        this.queue.splice(i, 1);
        p.resolve(this.cancelledResult(p));
      } else {
        i++;
      }
    }
    if (this.running || this.queue.length === 0) return;
    const ctx = this.queue[0].audioCtx;
    const batch: Pending[] = [];
    for (let i = 0; i < this.queue.length && batch.length < WHISPER_MAX_BATCH; ) {
      if (this.queue[i].audioCtx === ctx) batch.push(...this.queue.splice(i, 1));
      else i++;
    }
    this.running = true;
    const entries = batch.map((p) => ({
      pcm: p.pcm,
      language: p.options.language,
      translate: p.options.translate,
      timestamps: p.options.timestamps,
      temperature: p.temperatures[p.step],
      beamSize: p.temperatures[p.step] === 0 ? (p.options.beamSize ?? 1) : 1,
      seed: p.options.seed,
      maxTokens: p.options.maxTokens,
      prompt: p.prompt,
      cancelId: p.cancelId,
    }));
    let results: Promise<NativeTranscribeResult[]>;
    try {
      results = this.native.transcribe(entries, { audioCtx: ctx });
      for (const p of batch) if (p.cancelled) this.native.cancel(p.cancelId);
    } catch (error) {
      this.running = false;
      for (const p of batch) p.reject(error as Error);
      this.pump();
      return;
    }
    results
      .then((out) => out.forEach((r, i) => this.settle(batch[i], r, batch.length)))
      .catch((error: unknown) => {
        for (const p of batch) p.reject(error instanceof Error ? error : new Error(String(error)));
      })
      .finally(() => {
        this.running = false;
        this.pump();
      });
  }

  private promptTokens(prompt: string | readonly number[] | undefined): number[] | undefined {
    if (prompt === undefined) return undefined;
    if (typeof prompt !== 'string') return [...prompt];
    const text = prompt.trim();
    return text === '' ? undefined : this.native.tokenize(` ${text}`);
  }

  private cancelledResult(p: Pending): WhisperTranscription {
    return {
      text: '',
      language: p.options.language ?? '',
      segments: [],
      tokens: [],
      avgLogprob: 0,
      noSpeechProb: 0,
      compressionRatio: 0,
      temperature: p.temperatures[p.step],
      cancelled: true,
      audioSeconds: p.pcm.length / WHISPER_SAMPLE_RATE,
      timings: { melMs: 0, encodeMs: 0, decodeMs: 0, totalMs: performance.now() - p.started, batchSize: 0 },
    };
  }

  private settle(p: Pending, r: NativeTranscribeResult, batchSize: number): void {
    const ratio = compressionRatio(r.text);
    const temperature = p.temperatures[p.step];
    const cancelled = r.cancelled || p.cancelled;
    const threshold = p.options.compressionRatioThreshold ?? DEFAULT_COMPRESSION_RATIO_THRESHOLD;
    const logprobThreshold = p.options.logprobThreshold ?? DEFAULT_LOGPROB_THRESHOLD;
    const failed = ratio > threshold || r.avgLogprob < logprobThreshold;
    if (!cancelled && failed && p.step + 1 < p.temperatures.length) {
      p.step++;
      p.cancelId = this.nextCancelId++;
      this.queue.push(p);
      return;
    }
    p.resolve({
      text: r.text.toString('utf8'),
      language: r.language,
      segments: r.segments.map((s) => ({
        start: s.start,
        end: s.end,
        text: s.text.toString('utf8'),
        tokens: s.tokens,
      })),
      tokens: r.tokens,
      avgLogprob: r.avgLogprob,
      noSpeechProb: r.noSpeechProb,
      compressionRatio: ratio,
      temperature,
      cancelled,
      audioSeconds: p.pcm.length / WHISPER_SAMPLE_RATE,
      timings: {
        melMs: r.melMs,
        encodeMs: r.encodeMs,
        decodeMs: r.decodeMs,
        totalMs: performance.now() - p.started,
        batchSize,
      },
    });
  }
}
