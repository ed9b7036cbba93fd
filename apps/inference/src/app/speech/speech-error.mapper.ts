// SpeechError codes to OpenAI's error shape and status for /v1/audio/speech (used by openai-error.mapper.ts).
import { HttpStatus } from '@nestjs/common';
import { assertUnreachable } from '@sovren/http';

import type { OpenAiErrorResponse, OpenAiErrorType } from '../openai/openai-error.mapper';
import { SpeechError, SpeechErrorCode } from './speech.errors';

export function fromSpeechError(error: SpeechError): OpenAiErrorResponse {
  const answer = (status: number, type: OpenAiErrorType, extra: Partial<OpenAiErrorResponse> = {}) => ({
    status,
    body: { error: { message: error.message, type, param: error.param, code: error.code as string } },
    unexpected: false,
    ...extra,
  });
  switch (error.code) {
    case SpeechErrorCode.INVALID_REQUEST:
    case SpeechErrorCode.INPUT_TOO_LONG:
    case SpeechErrorCode.VOICE_NOT_FOUND:
    case SpeechErrorCode.UNSUPPORTED_FORMAT:
      return answer(HttpStatus.BAD_REQUEST, 'invalid_request_error');
    case SpeechErrorCode.MODEL_NOT_FOUND:
      return answer(HttpStatus.NOT_FOUND, 'invalid_request_error');
    case SpeechErrorCode.QUEUE_FULL:
      return answer(HttpStatus.TOO_MANY_REQUESTS, 'rate_limit_error', { retryAfterSeconds: 1 });
    case SpeechErrorCode.MODEL_INVALID:
      return answer(HttpStatus.SERVICE_UNAVAILABLE, 'server_error');
    case SpeechErrorCode.SYNTHESIS_FAILED:
      return answer(HttpStatus.INTERNAL_SERVER_ERROR, 'server_error', { unexpected: true });
    default:
      return assertUnreachable(error.code, 'SpeechErrorCode');
  }
}
