// Speech recognition with Whisper on the native engine, for POST /v1/audio/transcriptions and inference.transcribe.
// The models are the ModelRegistry's (kind whisper: ggml-<id>.bin or <id>.gguf in <SOVREN_ROOT>/models/whisper), so
// they load at start or on first use, unload when idle, and count against the models' memory budget like the LLMs.
// This service transcribes (EngineWhisper batches concurrent requests into one encoder pass and one decoder step
// per token) and publishes one usage event (asr_seconds) per transcribed request.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { WHISPER_MAX_SAMPLES, WHISPER_SAMPLE_RATE, type WhisperTranscription } from '@sovren/engine';
import { assertUnreachable } from '@sovren/http';
import { errorMessage } from '@sovren/resilience';
import { randomUUID } from 'node:crypto';

import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import { INFERENCE_ENV, InferenceEnv } from '../inference-config/inference.env';
import { ModelRegistry, type LoadedWhisperModel } from '../models/model-registry.service';
import { UsageEventPublisher } from '../usage/usage-event.publisher';
import { TranscriptionError, TranscriptionErrorCode } from './transcription.errors';

/** OpenAI's model name: answered by the first installed Whisper model (by id). */
export const OPENAI_WHISPER_MODEL = 'whisper-1';

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
export class TranscriptionService {
  private readonly logger = new Logger(TranscriptionService.name);

  constructor(
    @Inject(INFERENCE_ENV) private readonly env: InferenceEnv,
    private readonly registry: ModelRegistry,
    private readonly usage: UsageEventPublisher,
  ) {}

  /** Ids of the Whisper models loaded now. */
  loaded(): string[] {
    return this.registry
      .list()
      .filter((entry) => entry.kind === 'whisper' && entry.loaded !== undefined)
      .map((entry) => entry.id);
  }

  /** Installed Whisper model ids (ggml-<id>.bin or <id>.gguf in <SOVREN_ROOT>/models/whisper), sorted. */
  async models(): Promise<string[]> {
    await this.registry.discover();
    return this.registry.whisperIds();
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
    const id = await this.resolve(request.model);
    const model = await this.acquire(id);
    model.inFlight++;
    try {
      return await this.run(model, request, signal);
    } finally {
      model.inFlight--;
      model.lastActivity = Date.now();
    }
  }

  private async run(
    model: LoadedWhisperModel,
    request: TranscriptionRequest,
    signal?: AbortSignal,
  ): Promise<TranscriptionResult> {
    const id = model.id;
    let result: WhisperTranscription;
    try {
      result = await model.engine.transcribe(request.pcm, {
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
      if (model.engine.closed) {
        this.logger.warn({ msg: 'model unloaded during a transcription', request_id: request.requestId, model: id });
        throw new TranscriptionError(
          TranscriptionErrorCode.MODEL_UNAVAILABLE,
          `model '${id}' was unloaded during the request; retry`,
          'model',
        );
      }
      this.logger.error({ msg: 'transcription failed', request_id: request.requestId, model: id, err: message });
      throw new TranscriptionError(TranscriptionErrorCode.TRANSCRIPTION_FAILED, 'transcription failed');
    }
    if (!result.cancelled) this.publishUsage(request, id, result);
    return { ...result, model: id };
  }

  private async resolve(model: string): Promise<string> {
    if (model !== OPENAI_WHISPER_MODEL) return model;
    const installed = await this.models();
    if (installed.length > 0) return installed[0];
    throw new TranscriptionError(
      TranscriptionErrorCode.MODEL_NOT_FOUND,
      `model '${model}' is not installed; installed Whisper models: none`,
      'model',
    );
  }

  /** The loaded model from the registry; its refusals in transcription codes. */
  private async acquire(id: string): Promise<LoadedWhisperModel> {
    try {
      // As for the LLMs: with SOVREN_INFERENCE_LOAD_ON_DEMAND=false only loading at start or an admin loads it.
      return await this.registry.acquireWhisper(id, { mayLoad: this.env.SOVREN_INFERENCE_LOAD_ON_DEMAND === 'true' });
    } catch (error) {
      if (!(error instanceof GenerationError)) throw error;
      throw new TranscriptionError(transcriptionCodeOf(error.code), error.message, 'model');
    }
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

/** The registry's refusal codes as transcription codes (the same strings where both APIs have the cause). */
function transcriptionCodeOf(code: GenerationErrorCode): TranscriptionErrorCode {
  switch (code) {
    case GenerationErrorCode.MODEL_NOT_FOUND:
      return TranscriptionErrorCode.MODEL_NOT_FOUND;
    case GenerationErrorCode.MODEL_UNAVAILABLE:
      return TranscriptionErrorCode.MODEL_INVALID;
    case GenerationErrorCode.MODEL_MEMORY_EXCEEDED:
      return TranscriptionErrorCode.MODEL_MEMORY_EXCEEDED;
    case GenerationErrorCode.MODEL_NOT_LOADED:
      return TranscriptionErrorCode.MODEL_NOT_LOADED;
    case GenerationErrorCode.MODEL_UNLOADING:
    case GenerationErrorCode.QUEUE_FULL:
    case GenerationErrorCode.CONCURRENCY_LIMIT:
      return TranscriptionErrorCode.MODEL_UNAVAILABLE;
    case GenerationErrorCode.CONTEXT_LENGTH_EXCEEDED:
    case GenerationErrorCode.INVALID_REQUEST:
      return TranscriptionErrorCode.INVALID_REQUEST;
    default:
      return assertUnreachable(code, 'GenerationErrorCode');
  }
}
