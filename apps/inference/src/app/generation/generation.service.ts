// The core of a generation request, shared by the HTTP and NATS edges: hold one of the user's concurrent slots,
// resolve (and load) the model, render and tokenise the prompt, check it against the sequence context, queue the
// job on the model's scheduler, and when it finishes count it and publish its usage event — exactly once,
// whatever ended it.
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { InferenceGenerateRequestV1, UsageEventV1, UsageFinishReason } from '@sovren/messaging';
import { randomInt, randomUUID } from 'node:crypto';

import type { ChatMessage, ChatTool } from '../chat/chat-template.renderer';
import { INFERENCE_ENV, InferenceEnv } from '../inference-config/inference.env';
import { InferenceMetrics, type InferenceEndpoint, type RequestStatus } from '../inference.metrics';
import { ModelRegistry, type LoadedModel } from '../models/model-registry.service';
import type { SamplerSettings } from '../scheduler/batch-engine.port';
import { GenerationJob, type JobFinishReason, type JobOutcome, type TokenLogprob } from '../scheduler/generation-job';
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
  /** Chat: functions the template renders for the model. */
  tools?: readonly ChatTool[];
  /** GBNF grammar the output must follow (structured outputs, forced tool calls). */
  grammar?: string;
  /** Token id → logit bias (-100…100); ids are checked against the model's vocabulary. */
  logitBias?: Record<number, number>;
  /** Report logprobs with this many alternatives per token (0…20); absent: no logprobs. */
  logprobs?: number;
}

/** A sampled token's logprob with the token texts (OpenAI's logprobs name tokens by their text). */
export interface TokenText {
  token: string;
  logprob: number;
  top: Array<{ token: string; logprob: number }>;
}

export interface GenerationListener {
  /** The model the request runs on, once it is loaded and before any text. */
  onModel?(model: LoadedModel): void;
  onText(delta: string, logprobs?: readonly TokenText[]): void;
  onFinish(outcome: JobOutcome): void;
}

export interface StartedGeneration {
  /** The first choice's job (the only one unless several choices were asked for). */
  job: GenerationJob;
  /** One job per choice, in choice order. */
  jobs: GenerationJob[];
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
    return this.startChoices(request, [listener]);
  }

  /**
   * Several choices of one prompt (OpenAI's `n`), one listener each: each choice samples with its own seed (the
   * request's seed + its index when one was given). They hold one of the user's slots and make one usage event:
   * the prompt counted once, the completions summed, as OpenAI's usage does.
   */
  async startChoices(request: GenerationRequest, listeners: readonly GenerationListener[]): Promise<StartedGeneration> {
    checkSeed(request.seed);
    if (request.seed !== undefined && request.seed + listeners.length - 1 > MAX_SEED) {
      throw new GenerationError(GenerationErrorCode.INVALID_REQUEST, `seed + n - 1 must not pass ${MAX_SEED}`, 'seed');
    }
    const release = this.holdSlot(request.ownerId);
    try {
      return await this.submit(request, listeners, release);
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
    listeners: readonly GenerationListener[],
    release: () => void,
  ): Promise<StartedGeneration> {
    const mayLoad = this.env.SOVREN_INFERENCE_LOAD_ON_DEMAND === 'true' || request.modelAdmin === true;
    const model = await this.registry.acquire(request.model, { mayLoad });
    if (model.info.kind === 'embedding') {
      throw new GenerationError(
        GenerationErrorCode.INVALID_REQUEST,
        `The model '${request.model}' is an embedding model (${model.info.architecture}); it serves /v1/embeddings`,
        'model',
      );
    }
    checkLogitBias(model, request.logitBias);
    const promptTokens = this.tokenize(model, request);
    const maxTokens = this.maxTokens(model, request, promptTokens.length);
    const deadline = Date.now() + this.env.SOVREN_INFERENCE_REQUEST_TIMEOUT_SECONDS * 1000;
    const outcomes: JobOutcome[] = new Array<JobOutcome>(listeners.length);
    let open = listeners.length;
    const baseSeed = request.seed;
    let refused = false;
    const jobs: GenerationJob[] = [];
    listeners.forEach((listener, index) =>
      jobs.push(
        new GenerationJob(
          {
            requestId: request.requestId,
            promptTokens,
            maxTokens,
            sampler: samplerOf(request, baseSeed === undefined ? undefined : baseSeed + index),
            stop: request.stop ?? [],
            deadline,
            // Further choices fork the first one's sequence once its prompt is in.
            ...(index > 0 ? { forkOf: jobs[0] } : {}),
          },
          {
            onText: (delta, logprobs) => listener.onText(delta, logprobs && tokenTexts(model, logprobs)),
            onFinish: (outcome) => {
              outcomes[index] = outcome;
              open -= 1;
              if (open === 0) {
                release();
                // Choices withdrawn because another could not be queued: the request was refused, nothing ran.
                if (!refused) this.record(request, combinedOutcome(outcomes));
              }
              listener.onFinish(outcome);
            },
          },
        ),
      ),
    );
    for (const listener of listeners) listener.onModel?.(model);
    const submitted: GenerationJob[] = [];
    try {
      // The other choices first: they wait for the first one, whose prompt is then planned knowing of them.
      for (const job of [...jobs.slice(1), jobs[0]]) {
        model.scheduler.submit(job);
        submitted.push(job);
      }
    } catch (error) {
      // All choices or none: the ones already queued leave (their slot and usage follow the others' finish).
      refused = true;
      for (const job of submitted) job.cancel();
      if (submitted.length > 0) {
        for (const job of jobs.filter((j) => !submitted.includes(j))) job.finish('cancelled');
      }
      if (error instanceof QueueFullError) {
        throw new GenerationError(GenerationErrorCode.QUEUE_FULL, error.message, null, 1);
      }
      if (error instanceof SchedulerClosedError) {
        throw new GenerationError(GenerationErrorCode.MODEL_UNLOADING, error.message, 'model', 1);
      }
      throw error;
    }
    return { job: jobs[0], jobs, model, promptTokens: promptTokens.length };
  }

  private tokenize(model: LoadedModel, request: GenerationRequest): number[] {
    let tokens: number[];
    if (request.messages) {
      checkToolTexts(model, request);
      const rendered = model.chat.render(request.messages, request.tools);
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

function samplerOf(request: GenerationRequest, seed: number | undefined): SamplerSettings {
  const settings: SamplerSettings = {
    // OpenAI's defaults: temperature 1, top_p 1; without a seed every request draws differently.
    temperature: request.temperature ?? 1,
    topP: request.topP ?? 1,
    seed: seed ?? randomInt(0, 2 ** 31 - 1),
  };
  if (request.grammar !== undefined) settings.grammar = request.grammar;
  if (request.logitBias !== undefined) settings.logitBias = request.logitBias;
  if (request.logprobs !== undefined) settings.logprobs = request.logprobs;
  if (request.topK !== undefined) settings.topK = request.topK;
  if (request.minP !== undefined) settings.minP = request.minP;
  if (request.frequencyPenalty !== undefined) settings.frequencyPenalty = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) settings.presencePenalty = request.presencePenalty;
  return settings;
}

function tokenTexts(model: LoadedModel, logprobs: readonly TokenLogprob[]): TokenText[] {
  const text = (token: number) => model.engine.detokenize([token], { renderSpecial: true });
  return logprobs.map((l) => ({
    token: text(l.token),
    logprob: l.logprob,
    top: l.top.map((t) => ({ token: text(t.token), logprob: t.logprob })),
  }));
}

/** Ids outside the vocabulary are the client's mistake: 400 naming the id, before the engine would throw. */
function checkLogitBias(model: LoadedModel, bias: Record<number, number> | undefined): void {
  if (bias === undefined) return;
  for (const id of Object.keys(bias).map(Number)) {
    if (!Number.isInteger(id) || id < 0 || id >= model.info.vocabSize) {
      throw new GenerationError(
        GenerationErrorCode.INVALID_REQUEST,
        `logit_bias names token ${id}, but this model's vocabulary has ids 0 to ${model.info.vocabSize - 1}`,
        'logit_bias',
      );
    }
  }
}

/**
 * Tool definitions and past tool calls are written into the prompt by the template, where special-token texts
 * become control tokens: a tool description or arguments holding e.g. "<|eot_id|>" could forge turns. Refused,
 * as such texts never come from an honest client.
 */
function checkToolTexts(model: LoadedModel, request: GenerationRequest): void {
  const texts: Array<[string, string]> = [];
  if (request.tools && request.tools.length > 0) texts.push(['tools', JSON.stringify(request.tools)]);
  request.messages?.forEach((m, i) => {
    if (m.tool_calls?.length) texts.push([`messages[${i}].tool_calls`, JSON.stringify(m.tool_calls)]);
    if (m.tool_call_id !== undefined) texts.push([`messages[${i}].tool_call_id`, m.tool_call_id]);
    if (m.name !== undefined) texts.push([`messages[${i}].name`, m.name]);
  });
  for (const [param, text] of texts) {
    const plain = model.engine.tokenize(text, { addSpecial: false, parseSpecial: false });
    const special = model.engine.tokenize(text, { addSpecial: false, parseSpecial: true });
    if (plain.length !== special.length || plain.some((t, i) => t !== special[i])) {
      throw new GenerationError(
        GenerationErrorCode.INVALID_REQUEST,
        `${param} contains the text of one of the model's special tokens`,
        param,
      );
    }
  }
}

/** One usage record for all choices: the prompt once, completions summed; the first error or choice 0's reason. */
function combinedOutcome(outcomes: readonly JobOutcome[]): JobOutcome {
  if (outcomes.length === 1) return outcomes[0];
  const failed = outcomes.find((o) => o.finishReason === 'error');
  const first = failed ?? outcomes[0];
  const combined: JobOutcome = {
    ...first,
    promptTokens: Math.max(...outcomes.map((o) => o.promptTokens)),
    cachedPromptTokens: Math.max(...outcomes.map((o) => o.cachedPromptTokens)),
    completionTokens: outcomes.reduce((sum, o) => sum + o.completionTokens, 0),
    queueMs: Math.min(...outcomes.map((o) => o.queueMs)),
    durationMs: Math.max(...outcomes.map((o) => o.durationMs)),
  };
  const ttfts = outcomes.map((o) => o.timeToFirstTokenMs).filter((t): t is number => t !== undefined);
  if (ttfts.length > 0) combined.timeToFirstTokenMs = Math.min(...ttfts);
  else delete combined.timeToFirstTokenMs;
  return combined;
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
