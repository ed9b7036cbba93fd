// Speech recognition with Whisper on the native engine, for POST /v1/audio/transcriptions and inference.transcribe:
// finds the model in <SOVREN_ROOT>/models/whisper (ggml-<id>.bin, whisper.cpp's names), loads it once on first use,
// transcribes (EngineWhisper batches concurrent requests into one encoder pass and one decoder step per token), and
// publishes one usage event (asr_seconds) per transcribed request. A model with no request for
// SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS (the LLMs' setting) is unloaded; the next request loads it again.
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { EngineWhisper, WHISPER_MAX_SAMPLES, WHISPER_SAMPLE_RATE, type WhisperTranscription } from '@sovren/engine';
import { errorMessage } from '@sovren/resilience';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { INFERENCE_ENV, InferenceEnv } from '../inference-config/inference.env';
import { UsageEventPublisher } from '../usage/usage-event.publisher';
import { TranscriptionError, TranscriptionErrorCode } from './transcription.errors';

/** OpenAI's model name: answered by the first installed Whisper model (by id). */
export const OPENAI_WHISPER_MODEL = 'whisper-1';
const MODEL_FILE = /^ggml-([A-Za-z0-9][A-Za-z0-9._-]{0,100})\.bin$/;

export interface TranscriptionRequest {
  endpoint: 'http' | 'nats';
  requestId: string;
  ownerId: string;
  keyId?: string;
  model: string;
  /** 16 kHz mono samples. */
  pcm: Float32Array;
  language?: string;
  /** Previous-text prompt (Whisper's initial_prompt). */
  prompt?: string;
  timestamps?: boolean;
  /** A single temperature; absent: Whisper's fallback ladder 0, 0.2, ... 1.0. */
  temperature?: number;
}

export interface TranscriptionResult extends WhisperTranscription {
  model: string;
}

@Injectable()
export class TranscriptionService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(TranscriptionService.name);
  private readonly loading = new Map<string, Promise<EngineWhisper>>();
  /** Per loaded model: requests in flight and when the last one ended. */
  private readonly use = new Map<string, { inFlight: number; lastUsed: number }>();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: PlatformConfig,
    @Inject(INFERENCE_ENV) private readonly env: InferenceEnv,
    private readonly usage: UsageEventPublisher,
  ) {}

  onModuleInit(): void {
    const idleSeconds = this.env.SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS;
    if (idleSeconds > 0) {
      const everyMs = Math.min(30_000, Math.max(250, (idleSeconds * 1000) / 4));
      this.idleTimer = setInterval(() => this.unloadIdle(idleSeconds * 1000), everyMs);
      this.idleTimer.unref();
    }
  }

  /** Ids of the Whisper models loaded (or loading) now. */
  loaded(): string[] {
    return [...this.loading.keys()].sort();
  }

  private unloadIdle(idleMs: number): void {
    const now = Date.now();
    for (const [id, loading] of this.loading) {
      const use = this.use.get(id);
      if (!use || use.inFlight > 0 || now - use.lastUsed < idleMs) continue;
      this.loading.delete(id);
      this.use.delete(id);
      loading.then(
        (model) => {
          model.close();
          this.logger.log({ msg: 'whisper model unloaded after being idle', model: id });
        },
        (error: unknown) =>
          this.logger.warn({ msg: 'idle whisper model had failed to load', model: id, err: errorMessage(error) }),
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    for (const [id, loading] of this.loading) {
      try {
        (await loading).close();
      } catch (error) {
        this.logger.warn({ msg: 'cannot release a whisper model', model: id, err: errorMessage(error) });
      }
    }
  }

  /** Installed Whisper model ids (ggml-<id>.bin in <SOVREN_ROOT>/models/whisper), sorted. */
  models(): string[] {
    const root = this.config.paths.models.whisper;
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .map((name) => MODEL_FILE.exec(name)?.[1])
      .filter((id): id is string => id !== undefined)
      .sort();
  }

  async transcribe(request: TranscriptionRequest, signal?: AbortSignal): Promise<TranscriptionResult> {
    if (request.pcm.length === 0) {
      throw new TranscriptionError(TranscriptionErrorCode.INVALID_AUDIO, 'the audio is empty', 'file');
    }
    if (request.pcm.length > WHISPER_MAX_SAMPLES) {
      throw new TranscriptionError(
        TranscriptionErrorCode.AUDIO_TOO_LONG,
        `the audio is ${(request.pcm.length / WHISPER_SAMPLE_RATE).toFixed(2)} s long; the maximum is 30 s`,
        'file',
      );
    }
    if (request.temperature !== undefined && !(request.temperature >= 0 && request.temperature <= 1)) {
      throw new TranscriptionError(
        TranscriptionErrorCode.INVALID_REQUEST,
        'temperature must be in 0..1',
        'temperature',
      );
    }
    const id = this.resolve(request.model);
    const use = this.use.get(id) ?? { inFlight: 0, lastUsed: Date.now() };
    this.use.set(id, use);
    use.inFlight++;
    try {
      return await this.run(id, request, signal);
    } finally {
      use.inFlight--;
      use.lastUsed = Date.now();
    }
  }

  private async run(id: string, request: TranscriptionRequest, signal?: AbortSignal): Promise<TranscriptionResult> {
    const whisper = await this.load(id);
    let result: WhisperTranscription;
    try {
      result = await whisper.transcribe(request.pcm, {
        ...(request.language ? { language: request.language } : {}),
        ...(request.prompt ? { prompt: request.prompt } : {}),
        timestamps: request.timestamps ?? false,
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      const message = errorMessage(error);
      if (message.includes('unknown language')) {
        throw new TranscriptionError(TranscriptionErrorCode.INVALID_REQUEST, message, 'language');
      }
      this.logger.error({ msg: 'transcription failed', request_id: request.requestId, model: id, err: message });
      throw new TranscriptionError(TranscriptionErrorCode.TRANSCRIPTION_FAILED, 'transcription failed');
    }
    if (!result.cancelled) this.publishUsage(request, id, result);
    return { ...result, model: id };
  }

  private resolve(model: string): string {
    const installed = this.models();
    if (model === OPENAI_WHISPER_MODEL && installed.length > 0) return installed[0];
    if (installed.includes(model)) return model;
    throw new TranscriptionError(
      TranscriptionErrorCode.MODEL_NOT_FOUND,
      `model '${model}' is not installed; installed Whisper models: ${installed.join(', ') || 'none'}`,
      'model',
    );
  }

  private load(id: string): Promise<EngineWhisper> {
    let loading = this.loading.get(id);
    if (!loading) {
      const path = join(this.config.paths.models.whisper, `ggml-${id}.bin`);
      loading = EngineWhisper.load(path, { threads: this.env.SOVREN_INFERENCE_THREADS });
      this.loading.set(id, loading);
      loading.then(
        (m) => this.logger.log({ msg: 'whisper model loaded', model: id, weights: m.info().weightTypes }),
        (error: unknown) => {
          // A broken file is not cached: a fixed file is picked up by the next request.
          this.loading.delete(id);
          this.logger.error({ msg: 'cannot load a whisper model', model: id, err: errorMessage(error) });
        },
      );
    }
    return loading.catch((error: unknown) => {
      throw new TranscriptionError(
        TranscriptionErrorCode.MODEL_INVALID,
        `model '${id}' cannot be loaded: ${errorMessage(error)}`,
        'model',
      );
    });
  }

  private publishUsage(request: TranscriptionRequest, model: string, result: WhisperTranscription): void {
    this.usage.publish({
      v: 1,
      eventId: randomUUID(),
      requestId: request.requestId,
      ownerId: request.ownerId,
      ...(request.keyId ? { keyId: request.keyId } : {}),
      source: 'inference',
      quantities: { asr_seconds: result.audioSeconds },
      occurredAt: new Date().toISOString(),
    });
    this.logger.debug({ msg: 'transcribed', request_id: request.requestId, model, audio_s: result.audioSeconds });
  }
}
