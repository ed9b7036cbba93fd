// inference.transcribe for other services (the voice service first): one utterance of 16 kHz 16-bit PCM in, the
// transcript (text, language, segments, timings) or an error with the HTTP API's codes out.
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { pcm16BytesToFloat32 } from '@sovren/audio';
import {
  INFERENCE_TRANSCRIBE,
  NatsClient,
  parseInferenceTranscribeRequestV1,
  type InferenceTranscribeReplyV1,
  type InferenceTranscribeRequestV1,
} from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';

import { TranscriptionError, TranscriptionErrorCode } from './transcription.errors';
import { TranscriptionService } from './transcription.service';

/** One inference instance answers each request (several share the load). */
const QUEUE_GROUP = 'inference';

@Injectable()
export class TranscriptionNatsResponder implements OnApplicationBootstrap {
  private readonly logger = new Logger(TranscriptionNatsResponder.name);

  constructor(
    private readonly nats: NatsClient,
    private readonly transcription: TranscriptionService,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond<InferenceTranscribeRequestV1, InferenceTranscribeReplyV1>(
      INFERENCE_TRANSCRIBE,
      (request) => this.transcribe(request),
      { queue: QUEUE_GROUP, parse: parseInferenceTranscribeRequestV1 },
    );
  }

  async transcribe(request: InferenceTranscribeRequestV1): Promise<InferenceTranscribeReplyV1> {
    const started = performance.now();
    try {
      const bytes = Buffer.from(request.audio, 'base64');
      if (bytes.length % 2 !== 0) {
        throw new TranscriptionError(
          TranscriptionErrorCode.INVALID_AUDIO,
          'audio must be whole 16-bit samples',
          'audio',
        );
      }
      const result = await this.transcription.transcribe({
        endpoint: 'nats',
        requestId: request.requestId,
        ownerId: request.ownerId,
        ...(request.keyId ? { keyId: request.keyId } : {}),
        model: request.model,
        pcm: pcm16BytesToFloat32(bytes),
        ...(request.language ? { language: request.language } : {}),
        ...(request.prompt ? { prompt: request.prompt } : {}),
        timestamps: request.timestamps ?? false,
      });
      return {
        v: 1,
        ok: true,
        requestId: request.requestId,
        text: result.text,
        language: result.language,
        segments: result.segments.map((s) => ({ start: s.start, end: s.end, text: s.text })),
        audioSeconds: result.audioSeconds,
        timings: {
          encodeMs: result.timings.encodeMs,
          decodeMs: result.timings.decodeMs,
          totalMs: performance.now() - started,
        },
      };
    } catch (error) {
      if (error instanceof TranscriptionError) {
        return { v: 1, ok: false, requestId: request.requestId, error: { code: error.code, message: error.message } };
      }
      this.logger.error({
        msg: 'inference.transcribe failed',
        request_id: request.requestId,
        err: errorMessage(error),
      });
      return {
        v: 1,
        ok: false,
        requestId: request.requestId,
        error: { code: TranscriptionErrorCode.TRANSCRIPTION_FAILED, message: 'transcription failed' },
      };
    }
  }
}
