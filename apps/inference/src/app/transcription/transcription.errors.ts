// Errors of speech recognition with a code per cause; the HTTP and NATS edges map the codes (transcription.controller
// for OpenAI's error shape, the NATS responder as { code, message }).
import { HttpStatus } from '@nestjs/common';
import { assertUnreachable } from '@sovren/http';

import type { OpenAiErrorResponse } from '../openai/openai-error.mapper';

export enum TranscriptionErrorCode {
  INVALID_REQUEST = 'invalid_request',
  INVALID_AUDIO = 'invalid_audio',
  AUDIO_TOO_LONG = 'audio_too_long',
  UNSUPPORTED_FORMAT = 'unsupported_response_format',
  MODEL_NOT_FOUND = 'model_not_found',
  MODEL_INVALID = 'model_invalid',
  /** Loading the model would take the loaded models past their memory budget (the LLMs' code). */
  MODEL_MEMORY_EXCEEDED = 'model_memory_exceeded',
  /** The model is not loaded and SOVREN_INFERENCE_LOAD_ON_DEMAND=false (the LLMs' code). */
  MODEL_NOT_LOADED = 'model_not_loaded',
  /** The model is unloading or the service is shutting down: retry. */
  MODEL_UNAVAILABLE = 'model_unavailable',
  TRANSCRIPTION_FAILED = 'transcription_failed',
}

export class TranscriptionError extends Error {
  override name = 'TranscriptionError';

  constructor(
    readonly code: TranscriptionErrorCode,
    message: string,
    /** The request field at fault, for OpenAI's `param`. */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function fromTranscriptionError(error: TranscriptionError): OpenAiErrorResponse {
  const answer = (status: number, type: 'invalid_request_error' | 'server_error', unexpected = false) => ({
    status,
    body: { error: { message: error.message, type, param: error.param, code: error.code as string } },
    unexpected,
  });
  switch (error.code) {
    case TranscriptionErrorCode.INVALID_REQUEST:
    case TranscriptionErrorCode.INVALID_AUDIO:
    case TranscriptionErrorCode.AUDIO_TOO_LONG:
    case TranscriptionErrorCode.UNSUPPORTED_FORMAT:
      return answer(HttpStatus.BAD_REQUEST, 'invalid_request_error');
    case TranscriptionErrorCode.MODEL_NOT_FOUND:
      return answer(HttpStatus.NOT_FOUND, 'invalid_request_error');
    case TranscriptionErrorCode.MODEL_INVALID:
    case TranscriptionErrorCode.MODEL_MEMORY_EXCEEDED:
    case TranscriptionErrorCode.MODEL_NOT_LOADED:
    case TranscriptionErrorCode.MODEL_UNAVAILABLE:
      return answer(HttpStatus.SERVICE_UNAVAILABLE, 'server_error');
    case TranscriptionErrorCode.TRANSCRIPTION_FAILED:
      return answer(HttpStatus.INTERNAL_SERVER_ERROR, 'server_error', true);
    default:
      return assertUnreachable(error.code, 'TranscriptionErrorCode');
  }
}
