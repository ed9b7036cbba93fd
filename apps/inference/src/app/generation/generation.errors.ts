// Why a generation request is refused before it starts. Each transport maps the code to its own error: the
// OpenAI-shaped HTTP error (openai-error.mapper.ts) or the NATS refusal (inference-generate.responder.ts).

export enum GenerationErrorCode {
  /** No GGUF file with that id in the models directory. */
  MODEL_NOT_FOUND = 'model_not_found',
  /** The model exists but could not be loaded (the message says why). */
  MODEL_UNAVAILABLE = 'model_unavailable',
  /** Prompt + max_tokens do not fit in a sequence's context. */
  CONTEXT_LENGTH_EXCEEDED = 'context_length_exceeded',
  /** A parameter is invalid in a way the DTO cannot see (e.g. an empty prompt after tokenisation). */
  INVALID_REQUEST = 'invalid_request',
  /** Every sequence is busy and the queue is full. */
  QUEUE_FULL = 'queue_full',
  /** The model is being unloaded. */
  MODEL_UNLOADING = 'model_unloading',
  /** The model is not loaded and this caller may not load it (SOVREN_INFERENCE_LOAD_ON_DEMAND=false). */
  MODEL_NOT_LOADED = 'model_not_loaded',
  /** Loading the model would take the loaded models past their memory budget. */
  MODEL_MEMORY_EXCEEDED = 'model_memory_exceeded',
  /** The user already has as many generations running or queued as allowed. */
  CONCURRENCY_LIMIT = 'concurrency_limit_exceeded',
}

export class GenerationError extends Error {
  constructor(
    readonly code: GenerationErrorCode,
    message: string,
    /** The request field concerned, when there is one (OpenAI's `param`). */
    readonly param: string | null = null,
    /** For QUEUE_FULL / MODEL_UNLOADING / CONCURRENCY_LIMIT: when to retry. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'GenerationError';
  }
}
