// /v1/embeddings behind the controller: resolve (and load) the model, tokenise the inputs, check them against the
// context, run the engine's batched encoder pass (EngineModel.embed, on a native thread), truncate to `dimensions`
// where the model was trained for it, and publish one usage event per request (its tokens as llm_tokens_in).
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { UsageEventV1 } from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';
import { randomUUID } from 'node:crypto';

import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import { INFERENCE_ENV, InferenceEnv } from '../inference-config/inference.env';
import { InferenceMetrics } from '../inference.metrics';
import { ModelRegistry, type LoadedModel } from '../models/model-registry.service';
import { UsageEventPublisher } from '../usage/usage-event.publisher';

export interface EmbeddingRequest {
  requestId: string;
  ownerId: string;
  keyId?: string;
  model: string;
  modelAdmin?: boolean;
  /** Texts or token-id arrays. */
  inputs: ReadonlyArray<string | readonly number[]>;
  dimensions?: number;
}

export interface EmbeddingResult {
  vectors: Float32Array[];
  promptTokens: number;
}

/** Architectures trained with Matryoshka representation learning: a prefix of the vector is an embedding too. */
const TRUNCATABLE_ARCHITECTURES = new Set(['nomic-bert']);

@Injectable()
export class EmbeddingsService {
  private readonly logger = new Logger(EmbeddingsService.name);

  constructor(
    private readonly registry: ModelRegistry,
    private readonly metrics: InferenceMetrics,
    private readonly usage: UsageEventPublisher,
    @Inject(INFERENCE_ENV) private readonly env: InferenceEnv,
  ) {}

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const mayLoad = this.env.SOVREN_INFERENCE_LOAD_ON_DEMAND === 'true' || request.modelAdmin === true;
    const model = await this.registry.acquire(request.model, { mayLoad });
    const dimensions = checkDimensions(model, request.dimensions);
    const tokens = request.inputs.map((input, i) => this.tokens(model, input, i));
    const promptTokens = tokens.reduce((sum, t) => sum + t.length, 0);
    const started = Date.now();
    let vectors: Float32Array[];
    try {
      // The model's own pooling: the GGUF pooling_type of an encoder, the last token of a decoder.
      vectors = await model.engine.embed(tokens, { normalize: true });
    } catch (error) {
      this.metrics.requests.inc({ model: request.model, endpoint: 'embeddings', status: 'error' });
      this.logger.error({
        msg: 'embedding failed',
        request_id: request.requestId,
        model: request.model,
        err: errorMessage(error),
      });
      throw error;
    }
    if (dimensions !== undefined) vectors = vectors.map((v) => truncate(v, dimensions));
    this.metrics.requests.inc({ model: request.model, endpoint: 'embeddings', status: 'ok' });
    this.usage.publish(usageEventOf(request, promptTokens, Date.now() - started));
    return { vectors, promptTokens };
  }

  private tokens(model: LoadedModel, input: string | readonly number[], index: number): number[] {
    const param = `input[${index}]`;
    let tokens: number[];
    if (typeof input === 'string') {
      tokens = model.engine.tokenize(input, { addSpecial: true, parseSpecial: false });
    } else {
      const bad = input.find((t) => t >= model.info.vocabSize);
      if (bad !== undefined) {
        throw new GenerationError(
          GenerationErrorCode.INVALID_REQUEST,
          `${param} holds token ${bad}, but this model's vocabulary has ids 0 to ${model.info.vocabSize - 1}`,
          'input',
        );
      }
      tokens = [...input];
    }
    if (tokens.length === 0) {
      throw new GenerationError(GenerationErrorCode.INVALID_REQUEST, `${param} is empty`, 'input');
    }
    const context = model.info.contextSize;
    if (tokens.length > context) {
      throw new GenerationError(
        GenerationErrorCode.CONTEXT_LENGTH_EXCEEDED,
        `This model's maximum context length is ${context} tokens, however ${param} is ${tokens.length} tokens. ` +
          'Please reduce the length of the input.',
        'input',
      );
    }
    return tokens;
  }
}

/** undefined: keep the model's own size. */
function checkDimensions(model: LoadedModel, dimensions: number | undefined): number | undefined {
  const size = model.info.embeddingLength;
  if (dimensions === undefined || dimensions === size) return undefined;
  if (!TRUNCATABLE_ARCHITECTURES.has(model.info.architecture)) {
    throw new GenerationError(
      GenerationErrorCode.INVALID_REQUEST,
      `model ${model.id} (${model.info.architecture}) makes ${size}-dimensional embeddings and was not trained ` +
        'for shorter ones; leave out dimensions',
      'dimensions',
    );
  }
  if (dimensions > size) {
    throw new GenerationError(
      GenerationErrorCode.INVALID_REQUEST,
      `dimensions must be at most ${size} for model ${model.id}`,
      'dimensions',
    );
  }
  return dimensions;
}

/** The first `dimensions` components, scaled back to unit length. */
export function truncate(vector: Float32Array, dimensions: number): Float32Array {
  const out = vector.slice(0, dimensions);
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}

function usageEventOf(request: EmbeddingRequest, promptTokens: number, durationMs: number): UsageEventV1 {
  const event: UsageEventV1 = {
    v: 1,
    eventId: randomUUID(),
    requestId: request.requestId,
    ownerId: request.ownerId,
    source: 'inference',
    quantities: { llm_tokens_in: promptTokens, llm_tokens_out: 0 },
    llm: {
      model: request.model,
      promptTokens,
      completionTokens: 0,
      finishReason: 'stop',
      queueMs: 0,
      durationMs,
    },
    occurredAt: new Date().toISOString(),
  };
  if (request.keyId !== undefined) event.keyId = request.keyId;
  return event;
}
