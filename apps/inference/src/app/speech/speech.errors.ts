// Errors of speech synthesis with a code per cause; the HTTP and NATS edges map the codes (speech-error.mapper.ts).

export enum SpeechErrorCode {
  INVALID_REQUEST = 'invalid_request',
  INPUT_TOO_LONG = 'input_too_long',
  MODEL_NOT_FOUND = 'model_not_found',
  VOICE_NOT_FOUND = 'voice_not_found',
  UNSUPPORTED_FORMAT = 'unsupported_response_format',
  QUEUE_FULL = 'queue_full',
  MODEL_INVALID = 'model_invalid',
  SYNTHESIS_FAILED = 'synthesis_failed',
}

export class SpeechError extends Error {
  override name = 'SpeechError';

  constructor(
    readonly code: SpeechErrorCode,
    message: string,
    /** The request field at fault, for OpenAI's `param`. */
    readonly param: string | null = null,
  ) {
    super(message);
  }
}
