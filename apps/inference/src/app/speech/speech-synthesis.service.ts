// Speech synthesis for the HTTP and NATS edges: validates a request, then streams it clause by clause — text
// front end, espeak-ng phonemes, the model's vocabulary, one model run per chunk through the fair scheduler,
// resampling to the caller's rate — and publishes one usage event (characters, audio seconds) at the end.
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Resampler } from '@sovren/audio';
import { PlatformConfig } from '@sovren/config';
import type { UsageFinishReason } from '@sovren/messaging';
import {
  EspeakPhonemiser,
  normaliserFor,
  planChunks,
  resolvePackageFile,
  splitClauses,
  TtsModel,
  TtsModelError,
  type Clause,
  type OnnxExecution,
  type Phonemiser,
} from '@sovren/speech';
import { errorMessage } from '@sovren/resilience';
import { listSupportedBackends } from 'onnxruntime-node';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { INFERENCE_ENV, InferenceEnv } from '../inference-config/inference.env';
import { InferenceMetrics } from '../inference.metrics';
import { UsageEventPublisher } from '../usage/usage-event.publisher';
import { CancelledError, FairScheduler, QueueFullError, type SchedulerLane } from './fair-scheduler';
import { SpeechError, SpeechErrorCode } from './speech.errors';

/** The most characters one request may carry (as OpenAI's /v1/audio/speech). */
export const SPEECH_MAX_INPUT_CHARS = 4096;
export const SPEECH_MIN_SPEED = 0.25;
export const SPEECH_MAX_SPEED = 4;
export const SPEECH_MIN_SAMPLE_RATE = 8_000;
export const SPEECH_MAX_SAMPLE_RATE = 48_000;

/** Where a speech request came from (a metrics label). */
export type SpeechEndpoint = 'http' | 'nats';

export interface SynthesisRequest {
  requestId: string;
  ownerId: string;
  keyId?: string;
  endpoint: SpeechEndpoint;
  model: string;
  voice: string;
  input: string;
  /** 0.25 – 4 (default 1). */
  speed?: number;
  /** Output sample rate (default: the model's). */
  sampleRate?: number;
}

export interface SynthesisOutcome {
  finishReason: UsageFinishReason;
  sampleRate: number;
  /** Characters billed: all of the input when finished, the synthesised share when cut short. */
  characters: number;
  audioSeconds: number;
  chunks: number;
  timeToFirstAudioMs?: number;
  durationMs: number;
  error?: { code: string; message: string };
}

export interface SynthesisListener {
  /** Mono float32 audio at the request's rate, in order; a returned promise holds the next chunk back. */
  onAudio(samples: Float32Array, index: number): void | Promise<void>;
}

export interface StartedSynthesis {
  sampleRate: number;
  /** Settles once the last chunk was delivered, the request was cancelled or it failed (never rejects). */
  done: Promise<SynthesisOutcome>;
}

@Injectable()
export class SpeechSynthesisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SpeechSynthesisService.name);
  private readonly loading = new Map<string, Promise<TtsModel>>();
  private readonly scheduler: FairScheduler;
  private readonly phonemiser: Phonemiser;
  private execution: OnnxExecution = { providers: ['cpu'], intraOpThreads: 0 };

  constructor(
    private readonly config: PlatformConfig,
    @Inject(INFERENCE_ENV) private readonly env: InferenceEnv,
    private readonly usage: UsageEventPublisher,
    private readonly metrics: InferenceMetrics,
  ) {
    this.scheduler = new FairScheduler(env.SOVREN_TTS_CONCURRENCY, env.SOVREN_TTS_MAX_QUEUE);
    this.phonemiser = new EspeakPhonemiser({ maxProcesses: Math.max(2, env.SOVREN_TTS_CONCURRENCY * 2) });
  }

  onModuleInit(): void {
    this.execution = chooseExecution(this.env, (line) => this.logger.log(line));
    this.metrics.speechOpenRequests.set(0);
  }

  async onApplicationShutdown(): Promise<void> {
    for (const [id, loading] of this.loading) {
      try {
        await (await loading).close();
      } catch (error) {
        this.logger.warn({ msg: 'cannot release a speech model', model: id, err: errorMessage(error) });
      }
    }
  }

  /** The model folders under `<SOVREN_ROOT>/models/tts` (each holding a model.onnx). */
  discover(): string[] {
    const root = this.config.paths.models.tts;
    if (!existsSync(root)) return [];
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && TtsModel.isValidId(e.name) && existsSync(join(root, e.name, 'model.onnx')))
      .map((e) => e.name)
      .sort();
  }

  /** Whether the model is loaded (or loading) in this process. */
  isLoaded(id: string): boolean {
    return this.loading.has(id);
  }

  /** The model, loaded on first use and then shared (a failed load is retried by the next request). */
  async model(id: string): Promise<TtsModel> {
    if (!TtsModel.isValidId(id) || !this.discover().includes(id)) {
      throw new SpeechError(SpeechErrorCode.MODEL_NOT_FOUND, `The speech model '${id}' does not exist`, 'model');
    }
    let loading = this.loading.get(id);
    if (!loading) {
      const started = Date.now();
      loading = TtsModel.load(id, join(this.config.paths.models.tts, id), this.execution).catch((error: unknown) => {
        throw error instanceof TtsModelError ? new SpeechError(SpeechErrorCode.MODEL_INVALID, error.message) : error;
      });
      this.loading.set(id, loading);
      loading.then(
        (model) =>
          this.logger.log({
            msg: 'speech model loaded',
            model: id,
            voices: model.voices,
            sample_rate: model.config.sampleRate,
            max_tokens: model.config.maxTokens,
            providers: this.execution.providers,
            ms: Date.now() - started,
          }),
        (error: unknown) => {
          this.loading.delete(id);
          this.logger.error({ msg: 'speech model failed to load', model: id, err: errorMessage(error) });
        },
      );
    }
    return loading;
  }

  /** Validates and starts a request; a SpeechError here is the caller's 4xx (or 429/503) before any audio. */
  async start(request: SynthesisRequest, listener: SynthesisListener, signal: AbortSignal): Promise<StartedSynthesis> {
    validate(request);
    const model = await this.model(request.model);
    if (!model.hasVoice(request.voice)) {
      throw new SpeechError(
        SpeechErrorCode.VOICE_NOT_FOUND,
        `The voice '${request.voice}' does not exist for model '${request.model}' (voices: ${model.voices.join(', ')})`,
        'voice',
      );
    }
    let lane: SchedulerLane;
    try {
      lane = this.scheduler.open();
    } catch (error) {
      if (error instanceof QueueFullError) throw new SpeechError(SpeechErrorCode.QUEUE_FULL, error.message);
      throw error;
    }
    this.metrics.speechOpenRequests.set(this.scheduler.openLanes);
    const sampleRate = request.sampleRate ?? model.config.sampleRate;
    let resampler: Resampler | undefined;
    try {
      if (sampleRate !== model.config.sampleRate) {
        resampler = await Resampler.create({ fromRate: model.config.sampleRate, toRate: sampleRate });
      }
    } catch (error) {
      lane.close();
      this.metrics.speechOpenRequests.set(this.scheduler.openLanes);
      throw error;
    }
    const done = this.run(request, model, sampleRate, lane, resampler, listener, signal).finally(() => {
      lane.close();
      resampler?.close();
      this.metrics.speechOpenRequests.set(this.scheduler.openLanes);
    });
    return { sampleRate, done };
  }

  private async run(
    request: SynthesisRequest,
    model: TtsModel,
    sampleRate: number,
    lane: SchedulerLane,
    resampler: Resampler | undefined,
    listener: SynthesisListener,
    signal: AbortSignal,
  ): Promise<SynthesisOutcome> {
    const started = performance.now();
    const speed = request.speed ?? 1;
    let index = 0;
    let samples = 0;
    let modelSeconds = 0;
    let timeToFirstAudioMs: number | undefined;
    let clausesDone = 0;
    let clausesTotal = 0;
    const deliver = async (audio: Float32Array): Promise<void> => {
      if (audio.length === 0) return;
      timeToFirstAudioMs ??= performance.now() - started;
      samples += audio.length;
      await listener.onAudio(audio, index++);
    };
    const outcome = (finishReason: UsageFinishReason, error?: SpeechError): SynthesisOutcome => {
      const share = finishReason === 'stop' || clausesTotal === 0 ? 1 : clausesDone / clausesTotal;
      const result: SynthesisOutcome = {
        finishReason,
        sampleRate,
        characters: finishReason === 'stop' ? request.input.length : Math.round(request.input.length * share),
        audioSeconds: samples / sampleRate,
        chunks: index,
        durationMs: performance.now() - started,
      };
      if (timeToFirstAudioMs !== undefined) result.timeToFirstAudioMs = timeToFirstAudioMs;
      if (error) result.error = { code: error.code, message: error.message };
      return result;
    };
    let result: SynthesisOutcome;
    try {
      const voice = model.config.espeakVoice;
      const normaliser = normaliserFor(voice);
      const clauses = splitClauses(normaliser ? normaliser.normalise(request.input) : request.input);
      const count = (phonemes: string) => model.config.vocabulary.count(phonemes);
      const plan = (part: Clause[], phonemes: string[], firstClauseAlone: boolean) =>
        planChunks(
          part.map((c, i) => ({ ...c, phonemes: phonemes[i] })),
          { maxTokens: model.maxContentTokens, countTokens: count, firstClauseAlone },
        );
      // The first clause is phonemised on its own so its audio does not wait for the rest of the text.
      const first = this.phonemiser.phonemise(
        clauses.slice(0, 1).map((c) => c.text),
        voice,
      );
      const rest = this.phonemiser.phonemise(
        clauses.slice(1).map((c) => c.text),
        voice,
      );
      rest.catch(() => undefined); // awaited below; this only keeps an early failure from being unhandled
      const batches: Array<() => Promise<string[]>> = [
        async () => plan(clauses.slice(0, 1), await first, true),
        async () => plan(clauses.slice(1), await rest, false),
      ];
      clausesTotal = clauses.length;
      for (const batch of batches) {
        const chunks = await batch();
        for (const chunk of chunks) {
          if (signal.aborted) throw new CancelledError('cancelled');
          const ids = model.config.vocabulary.encode(chunk).ids;
          if (ids.length === 0) continue;
          const runStarted = performance.now();
          const audio = await lane.run(() => model.synthesize(ids, request.voice, speed));
          modelSeconds += (performance.now() - runStarted) / 1000;
          if (signal.aborted) throw new CancelledError('cancelled');
          await deliver(resampler ? resampler.process(audio) : audio);
        }
        clausesDone = batch === batches[0] ? Math.min(1, clauses.length) : clauses.length;
      }
      if (resampler) await deliver(resampler.flush());
      result = outcome('stop');
    } catch (error) {
      if (error instanceof CancelledError || signal.aborted) result = outcome('cancelled');
      else {
        const failure =
          error instanceof SpeechError
            ? error
            : new SpeechError(SpeechErrorCode.SYNTHESIS_FAILED, `speech synthesis failed: ${errorMessage(error)}`);
        this.logger.error({
          msg: 'speech synthesis failed',
          request_id: request.requestId,
          model: request.model,
          err: error instanceof Error ? error : String(error),
        });
        result = outcome('error', failure);
      }
    }
    this.record(request, result, modelSeconds);
    return result;
  }

  private record(request: SynthesisRequest, result: SynthesisOutcome, modelSeconds: number): void {
    const labels = { model: request.model };
    const status = result.finishReason === 'stop' ? 'ok' : result.finishReason === 'cancelled' ? 'cancelled' : 'error';
    this.metrics.speechRequests.inc({ ...labels, endpoint: request.endpoint, status });
    this.metrics.speechCharacters.inc(labels, result.characters);
    this.metrics.speechAudioSeconds.inc(labels, result.audioSeconds);
    if (result.timeToFirstAudioMs !== undefined)
      this.metrics.speechTimeToFirstAudio.observe(labels, result.timeToFirstAudioMs / 1000);
    if (result.audioSeconds > 0) this.metrics.speechRealTimeFactor.observe(labels, modelSeconds / result.audioSeconds);
    if (result.characters === 0) return;
    const tts: NonNullable<Parameters<UsageEventPublisher['publish']>[0]['tts']> = {
      model: request.model,
      voice: request.voice,
      characters: result.characters,
      audioSeconds: result.audioSeconds,
      finishReason: result.finishReason,
      durationMs: result.durationMs,
    };
    if (result.timeToFirstAudioMs !== undefined) tts.timeToFirstAudioMs = result.timeToFirstAudioMs;
    this.usage.publish({
      v: 1,
      eventId: randomUUID(),
      requestId: request.requestId,
      ownerId: request.ownerId,
      ...(request.keyId ? { keyId: request.keyId } : {}),
      source: 'inference',
      quantities: { tts_characters: result.characters },
      tts,
      occurredAt: new Date().toISOString(),
    });
  }
}

function validate(request: SynthesisRequest): void {
  if (typeof request.input !== 'string' || request.input.trim().length === 0) {
    throw new SpeechError(SpeechErrorCode.INVALID_REQUEST, 'input must be a non-empty string', 'input');
  }
  if (request.input.length > SPEECH_MAX_INPUT_CHARS) {
    throw new SpeechError(
      SpeechErrorCode.INPUT_TOO_LONG,
      `input is ${request.input.length} characters; the maximum is ${SPEECH_MAX_INPUT_CHARS}`,
      'input',
    );
  }
  const speed = request.speed ?? 1;
  if (!(Number.isFinite(speed) && speed >= SPEECH_MIN_SPEED && speed <= SPEECH_MAX_SPEED)) {
    throw new SpeechError(
      SpeechErrorCode.INVALID_REQUEST,
      `speed must be from ${SPEECH_MIN_SPEED} to ${SPEECH_MAX_SPEED}`,
      'speed',
    );
  }
  const rate = request.sampleRate;
  if (
    rate !== undefined &&
    !(Number.isInteger(rate) && rate >= SPEECH_MIN_SAMPLE_RATE && rate <= SPEECH_MAX_SAMPLE_RATE)
  ) {
    throw new SpeechError(
      SpeechErrorCode.INVALID_REQUEST,
      `sampleRate must be an integer from ${SPEECH_MIN_SAMPLE_RATE} to ${SPEECH_MAX_SAMPLE_RATE}`,
      'sampleRate',
    );
  }
}

/** CUDA when asked for (or `auto`) and this onnxruntime-node build can load it, else CPU; says so in one line. */
export function chooseExecution(env: InferenceEnv, log: (line: string) => void): OnnxExecution {
  const wanted = env.SOVREN_TTS_EXECUTION_PROVIDER;
  const cuda = listSupportedBackends().find((b) => b.name === 'cuda');
  // `bundled: false` means the CUDA provider library is installed separately; without it the session would fail.
  const cudaPresent = cuda !== undefined && (cuda.bundled || hasCudaProviderLibrary());
  const useCuda = wanted === 'cuda' || (wanted === 'auto' && cudaPresent);
  const execution: OnnxExecution = {
    providers: useCuda ? ['cuda', 'cpu'] : ['cpu'],
    intraOpThreads: env.SOVREN_TTS_THREADS,
  };
  log(
    `speech: ONNX Runtime execution provider ${useCuda ? 'CUDA (CPU fallback)' : 'CPU'} ` +
      `(SOVREN_TTS_EXECUTION_PROVIDER=${wanted}; CUDA provider ${cudaPresent ? 'available' : 'not installed'})`,
  );
  return execution;
}

function hasCudaProviderLibrary(): boolean {
  const root = dirname(resolvePackageFile('onnxruntime-node/package.json'));
  return existsSync(join(root, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
}
