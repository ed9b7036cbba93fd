// The core of a generation request, shared by the HTTP and NATS edges: hold one of the user's concurrent slots,
// resolve (and load) the model, render and tokenise the prompt, check it against the sequence context, queue the
// job on the model's scheduler, and when it finishes count it and publish its usage event — exactly once,
// whatever ended it.
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { InferenceGenerateRequestV1, UsageEventV1, UsageFinishReason } from '@sovren/messaging';
import { randomInt, randomUUID } from 'node:crypto';

import type { ChatMessage } from '../chat/chat-template.renderer';
import { INFERENCE_ENV, InferenceEnv } from '../inference-config/inference.env';
import { InferenceMetrics, type InferenceEndpoint, type RequestStatus } from '../inference.metrics';
import { ModelRegistry, type LoadedModel } from '../models/model-registry.service';
import type { SamplerSettings } from '../scheduler/batch-engine.port';
import { GenerationJob, type JobFinishReason, type JobOutcome } from '../scheduler/generation-job';
import { QueueFullError, SchedulerClosedError } from '../scheduler/model-scheduler';
import { GenerationError, GenerationErrorCode } from './generation.errors';
import { UsageEventPublisher } from '../usage/usage-event.publisher';

/** The sampling and limit fields are the NATS contract's own, so both edges mean the same thing by them. */
type ContractParameters = Pick<
  InferenceGenerateRequestV1,
  | 'model'
  | 'keyId'
  | 'maxTokens'
  | 'temperature'
  | 'topP'
  | 'topK'
  | 'minP'
  | 'frequencyPenalty'
  | 'presencePenalty'
  | 'seed'
>;

/** Seeds the engine takes: non-negative integers that a double holds exactly. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

export interface GenerationRequest extends ContractParameters {
  endpoint: InferenceEndpoint;
  requestId: string;
  ownerId: string;
  /** Holds `inference:admin`: may load a model on demand even when SOVREN_INFERENCE_LOAD_ON_DEMAND is false. */
  modelAdmin?: boolean;
  /** Chat: rendered with the model's template. Exactly one of messages / prompt. */
  messages?: readonly ChatMessage[];
  prompt?: string;
  stop?: readonly string[];
}

export interface GenerationListener {
  onText(delta: string): void;
  onFinish(outcome: JobOutcome): void;
}

export interface StartedGeneration {
  job: GenerationJob;
  model: LoadedModel;
  promptTokens: number;
}

/** What the OpenAI API and the usage event call each way a request can end. */
export function publicFinishReason(reason: JobFinishReason): UsageFinishReason {
  switch (reason) {
    case 'stop':
    case 'length':
    case 'cancelled':
    case 'error':
      return reason;
    case 'timeout':
      // Cut short by a limit, like max_tokens: the client gets what was generated.
      return 'length';
  }
}

@Injectable()
export class GenerationService {
  private readonly logger = new Logger(GenerationService.name);
  /** Generations running or queued per owner (SOVREN_INFERENCE_MAX_CONCURRENT_PER_USER). */
  private readonly activePerOwner = new Map<string, number>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly metrics: InferenceMetrics,
    private readonly usage: UsageEventPublisher,
    @Inject(INFERENCE_ENV) private readonly env: InferenceEnv,
  ) {}

  /** Queues the request; throws GenerationError when it cannot start. The listener then gets text and the outcome. */
  async start(request: GenerationRequest, listener: GenerationListener): Promise<StartedGeneration> {
    checkSeed(request.seed);
    const release = this.holdSlot(request.ownerId);
    try {
      return await this.submit(request, listener, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Takes one of the owner's concurrent slots; the returned function gives it back (once, however often called). */
  private holdSlot(ownerId: string): () => void {
    const limit = this.env.SOVREN_INFERENCE_MAX_CONCURRENT_PER_USER;
    const active = this.activePerOwner.get(ownerId) ?? 0;
    if (active >= limit) {
      throw new GenerationError(
        GenerationErrorCode.CONCURRENCY_LIMIT,
        `Too many generations at once: at most ${limit} per user may run or wait; retry when one has finished`,
        null,
        1,
      );
    }
    this.activePerOwner.set(ownerId, active + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.activePerOwner.get(ownerId) ?? 1) - 1;
      if (left > 0) this.activePerOwner.set(ownerId, left);
      else this.activePerOwner.delete(ownerId);
    };
  }

  private async submit(
    request: GenerationRequest,
    listener: GenerationListener,
    release: () => void,
  ): Promise<StartedGeneration> {
    const mayLoad = this.env.SOVREN_INFERENCE_LOAD_ON_DEMAND === 'true' || request.modelAdmin === true;
    const model = await this.registry.acquire(request.model, { mayLoad });
    const promptTokens = this.tokenize(model, request);
    const maxTokens = this.maxTokens(model, request, promptTokens.length);
    const job = new GenerationJob(
      {
        requestId: request.requestId,
        promptTokens,
        maxTokens,
        sampler: samplerOf(request),
        stop: request.stop ?? [],
        deadline: Date.now() + this.env.SOVREN_INFERENCE_REQUEST_TIMEOUT_SECONDS * 1000,
      },
      {
        onText: (delta) => listener.onText(delta),
        onFinish: (outcome) => {
          release();
          this.record(request, outcome);
          listener.onFinish(outcome);
        },
      },
    );
    try {
      model.scheduler.submit(job);
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new GenerationError(GenerationErrorCode.QUEUE_FULL, error.message, null, 1);
      }
      if (error instanceof SchedulerClosedError) {
        throw new GenerationError(GenerationErrorCode.MODEL_UNLOADING, error.message, 'model', 1);
      }
      throw error;
    }
    return { job, model, promptTokens: promptTokens.length };
  }

  private tokenize(model: LoadedModel, request: GenerationRequest): number[] {
    let tokens: number[];
    if (request.messages) {
      const rendered = model.chat.render(request.messages);
      // Templates usually write the BOS text themselves; adding BOS again would double it.
      const bos = model.info.specialTokens.bos;
      const bosText = bos === null ? '' : model.engine.detokenize([bos], { renderSpecial: true });
      const startsWithBos = bosText !== '' && rendered.text.startsWith(bosText);
      // The template's markers become control tokens; message content never does, whatever it contains.
      const segments = rendered.segments.map((s) => ({ text: s.text, parseSpecial: s.source === 'template' }));
      tokens = model.engine.tokenizeSegments(segments, { addSpecial: !startsWithBos });
    } else {
      tokens = model.engine.tokenize(request.prompt ?? '', { addSpecial: true, parseSpecial: false });
    }
    if (tokens.length === 0) {
      throw new GenerationError(
        GenerationErrorCode.INVALID_REQUEST,
        'The prompt is empty',
        request.messages ? 'messages' : 'prompt',
      );
    }
    return tokens;
  }

  private maxTokens(model: LoadedModel, request: GenerationRequest, promptTokens: number): number {
    const context = model.sequenceContext;
    const param = request.messages ? 'messages' : 'prompt';
    if (promptTokens >= context) {
      throw new GenerationError(
        GenerationErrorCode.CONTEXT_LENGTH_EXCEEDED,
        `This model's maximum context length is ${context} tokens. However, your prompt is ${promptTokens} tokens, ` +
          'which leaves no room for a completion. Please reduce the length of the prompt.',
        param,
      );
    }
    if (request.maxTokens === undefined) return context - promptTokens;
    if (promptTokens + request.maxTokens > context) {
      throw new GenerationError(
        GenerationErrorCode.CONTEXT_LENGTH_EXCEEDED,
        `This model's maximum context length is ${context} tokens. However, you requested ` +
          `${promptTokens + request.maxTokens} tokens (${promptTokens} in the prompt, ${request.maxTokens} for the ` +
          'completion). Please reduce the length of the prompt or of max_tokens.',
        'max_tokens',
      );
    }
    return request.maxTokens;
  }

  private record(request: GenerationRequest, outcome: JobOutcome): void {
    const status: RequestStatus =
      outcome.finishReason === 'cancelled' ? 'cancelled' : outcome.finishReason === 'error' ? 'error' : 'ok';
    this.metrics.requests.inc({ model: request.model, endpoint: request.endpoint, status });
    if (outcome.error) {
      this.logger.error({
        msg: 'generation failed',
        request_id: request.requestId,
        model: request.model,
        err: outcome.error.message,
      });
    }
    this.usage.publish(usageEventOf(request, outcome));
  }
}

function checkSeed(seed: number | undefined): void {
  if (seed === undefined || (Number.isSafeInteger(seed) && seed >= 0 && seed <= MAX_SEED)) return;
  throw new GenerationError(
    GenerationErrorCode.INVALID_REQUEST,
    `seed must be an integer from 0 to ${MAX_SEED}`,
    'seed',
  );
}

function samplerOf(request: GenerationRequest): SamplerSettings {
  const settings: SamplerSettings = {
    // OpenAI's defaults: temperature 1, top_p 1; without a seed every request draws differently.
    temperature: request.temperature ?? 1,
    topP: request.topP ?? 1,
    seed: request.seed ?? randomInt(0, 2 ** 31 - 1),
  };
  if (request.topK !== undefined) settings.topK = request.topK;
  if (request.minP !== undefined) settings.minP = request.minP;
  if (request.frequencyPenalty !== undefined) settings.frequencyPenalty = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) settings.presencePenalty = request.presencePenalty;
  return settings;
}

export function usageEventOf(request: GenerationRequest, outcome: JobOutcome): UsageEventV1 {
  const event: UsageEventV1 = {
    v: 1,
    eventId: randomUUID(),
    requestId: request.requestId,
    ownerId: request.ownerId,
    source: 'inference',
    quantities: { llm_tokens_in: outcome.promptTokens, llm_tokens_out: outcome.completionTokens },
    llm: {
      model: request.model,
      promptTokens: outcome.promptTokens,
      completionTokens: outcome.completionTokens,
      finishReason: publicFinishReason(outcome.finishReason),
      queueMs: outcome.queueMs,
      durationMs: outcome.durationMs,
    },
    occurredAt: new Date().toISOString(),
  };
  if (request.keyId !== undefined) event.keyId = request.keyId;
  if (outcome.timeToFirstTokenMs !== undefined && event.llm) event.llm.timeToFirstTokenMs = outcome.timeToFirstTokenMs;
  return event;
}
