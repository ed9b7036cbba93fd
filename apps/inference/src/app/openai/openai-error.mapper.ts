// Maps every error a /v1 route can raise — the shared guard's 401/403/429/503, the validation pipe's 400,
// generation refusals, body-parser errors, anything unexpected — to OpenAI's error shape and status, because
// OpenAI clients parse exactly `{"error":{"message","type","param","code"}}`.
import { HttpException, HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode, assertUnreachable, type FieldValidationProblem } from '@sovren/http';

import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import { fromSpeechError } from '../speech/speech-error.mapper';
import { SpeechError } from '../speech/speech.errors';
import { fromTranscriptionError, TranscriptionError } from '../transcription/transcription.errors';

export type OpenAiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error';

export interface OpenAiErrorBody {
  error: { message: string; type: OpenAiErrorType; param: string | null; code: string | null };
}

export interface OpenAiErrorResponse {
  status: number;
  body: OpenAiErrorBody;
  retryAfterSeconds?: number;
  /** An unexpected fault (logged with its stack), as opposed to a refusal. */
  unexpected: boolean;
}

export const OPENAI_INTERNAL_MESSAGE =
  'The server had an error while processing your request; quote the request id when reporting it.';

function response(
  status: number,
  type: OpenAiErrorType,
  message: string,
  code: string | null,
  param: string | null = null,
  extra: Partial<OpenAiErrorResponse> = {},
): OpenAiErrorResponse {
  return { status, body: { error: { message, type, param, code } }, unexpected: false, ...extra };
}

export function openAiErrorOf(exception: unknown): OpenAiErrorResponse {
  if (exception instanceof GenerationError) return fromGenerationError(exception);
  if (exception instanceof SpeechError) return fromSpeechError(exception);
  if (exception instanceof TranscriptionError) return fromTranscriptionError(exception);
  if (exception instanceof ApiError) return fromApiError(exception);
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return response(status, typeForStatus(status), exception.message, null);
  }
  // Express body-parser errors (malformed JSON, body too large) carry a client status and a safe message.
  const { status, expose } = (exception ?? {}) as { status?: unknown; expose?: unknown };
  if (exception instanceof Error && expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return response(status, typeForStatus(status), `Invalid request body: ${exception.message}`, null);
  }
  return response(HttpStatus.INTERNAL_SERVER_ERROR, 'server_error', OPENAI_INTERNAL_MESSAGE, null, null, {
    unexpected: true,
  });
}

function fromGenerationError(error: GenerationError): OpenAiErrorResponse {
  switch (error.code) {
    case GenerationErrorCode.MODEL_NOT_FOUND:
      return response(HttpStatus.NOT_FOUND, 'invalid_request_error', error.message, error.code, error.param);
    case GenerationErrorCode.CONTEXT_LENGTH_EXCEEDED:
    case GenerationErrorCode.INVALID_REQUEST:
      return response(HttpStatus.BAD_REQUEST, 'invalid_request_error', error.message, error.code, error.param);
    case GenerationErrorCode.QUEUE_FULL:
    case GenerationErrorCode.CONCURRENCY_LIMIT:
      return response(HttpStatus.TOO_MANY_REQUESTS, 'rate_limit_error', error.message, error.code, null, {
        retryAfterSeconds: error.retryAfterSeconds ?? 1,
      });
    case GenerationErrorCode.MODEL_UNLOADING:
      return response(HttpStatus.SERVICE_UNAVAILABLE, 'server_error', error.message, error.code, error.param, {
        retryAfterSeconds: error.retryAfterSeconds ?? 1,
      });
    case GenerationErrorCode.MODEL_UNAVAILABLE:
    case GenerationErrorCode.MODEL_NOT_LOADED:
    case GenerationErrorCode.MODEL_MEMORY_EXCEEDED:
      return response(HttpStatus.SERVICE_UNAVAILABLE, 'server_error', error.message, error.code, error.param);
    default:
      return assertUnreachable(error.code, 'GenerationErrorCode');
  }
}

function fromApiError(error: ApiError): OpenAiErrorResponse {
  const status = error.getStatus();
  switch (error.code) {
    case ApiErrorCode.VALIDATION_FAILED: {
      const problems = Array.isArray(error.details) ? (error.details as FieldValidationProblem[]) : [];
      const message =
        problems.length > 0 ? problems.map((p) => `${p.field}: ${p.messages.join('; ')}`).join('. ') : error.message;
      return response(status, 'invalid_request_error', message, 'invalid_value', problems[0]?.field ?? null);
    }
    case ApiErrorCode.UNAUTHORIZED:
      return response(status, 'authentication_error', error.message, 'invalid_api_key');
    case ApiErrorCode.FORBIDDEN:
      return response(status, 'permission_error', error.message, 'insufficient_permissions');
    case ApiErrorCode.RATE_LIMITED:
      return response(status, 'rate_limit_error', error.message, 'rate_limit_exceeded');
    default:
      return response(status, typeForStatus(status), error.message, error.code.toLowerCase());
  }
}

function typeForStatus(status: number): OpenAiErrorType {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}
