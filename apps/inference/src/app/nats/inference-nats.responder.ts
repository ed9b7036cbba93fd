// inference.models and inference.generate for other services (voice first). generate answers accepted/refused at
// once, then publishes chunks (when streaming) and one final message to the caller's stream subject; anything
// published to the cancel subject named in the acceptance ends the request at the next step. The operator (the
// `sovren` CLI, NATS user cli) loads and unloads models with inference.models.load / .unload.
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  INFERENCE_GENERATE,
  INFERENCE_MODELS,
  INFERENCE_MODELS_LOAD,
  INFERENCE_MODELS_UNLOAD,
  inferenceCancelSubject,
  NatsClient,
  parseInferenceGenerateRequestV1,
  parseInferenceModelControlRequestV1,
  type InferenceModelControlReplyV1,
  type InferenceModelControlRequestV1,
  type InferenceGenerateFinalV1,
  type InferenceGenerateReplyV1,
  type InferenceGenerateRequestV1,
  type InferenceGenerateStreamMessageV1,
  type InferenceModelsReplyV1,
  type MessagingSubscription,
} from '@sovren/messaging';

import { jsonSchemaToGrammar } from '@sovren/engine';

import type { ChatTool } from '../chat/chat-template.renderer';
import { requiredToolCallsSchema, toolCallFamily, ToolCallStreamGate, type ToolCallFamily } from '../chat/tool-calls';
import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import { GenerationService, publicFinishReason } from '../generation/generation.service';
import { ModelRegistry, type ModelEntry } from '../models/model-registry.service';
import { chatChoiceResult, type ToolMode } from '../openai/chat-choice';
import { SpeechSynthesisService } from '../speech/speech-synthesis.service';

/** One instance per model set answers each request (several inference workers share the load). */
const QUEUE_GROUP = 'inference';

@Injectable()
export class InferenceNatsResponder implements OnApplicationBootstrap {
  private readonly logger = new Logger(InferenceNatsResponder.name);

  constructor(
    private readonly nats: NatsClient,
    private readonly generation: GenerationService,
    private readonly registry: ModelRegistry,
    private readonly speech: SpeechSynthesisService,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond<unknown, InferenceModelsReplyV1>(INFERENCE_MODELS, () => this.models(), { queue: QUEUE_GROUP });
    this.nats.respond<InferenceGenerateRequestV1, InferenceGenerateReplyV1>(
      INFERENCE_GENERATE,
      (request) => this.generate(request),
      {
        queue: QUEUE_GROUP,
        parse: parseInferenceGenerateRequestV1,
      },
    );
    this.nats.respond<InferenceModelControlRequestV1, InferenceModelControlReplyV1>(
      INFERENCE_MODELS_LOAD,
      (request) => this.load(request.id),
      { queue: QUEUE_GROUP, parse: parseInferenceModelControlRequestV1 },
    );
    this.nats.respond<InferenceModelControlRequestV1, InferenceModelControlReplyV1>(
      INFERENCE_MODELS_UNLOAD,
      (request) => this.unload(request.id),
      { queue: QUEUE_GROUP, parse: parseInferenceModelControlRequestV1 },
    );
  }

  async models(): Promise<InferenceModelsReplyV1> {
    const entries = await this.registry.discover();
    const speech = this.speech.discover().map((id): InferenceModelsReplyV1['models'][number] => ({
      id,
      kind: 'tts',
      state: this.speech.isLoaded(id) ? 'loaded' : 'unloaded',
    }));
    return { v: 1, models: [...entries.map(modelView), ...speech] };
  }

  /** Loads the model (the reply comes once it is loaded); a GenerationError's code is the error reply's. */
  async load(id: string): Promise<InferenceModelControlReplyV1> {
    await this.registry.load(id);
    return { v: 1, model: modelView(await this.registry.find(id)) };
  }

  async unload(id: string): Promise<InferenceModelControlReplyV1> {
    const wasLoaded = await this.registry.unload(id);
    return { v: 1, model: modelView(await this.registry.find(id)), wasLoaded };
  }

  async generate(request: InferenceGenerateRequestV1): Promise<InferenceGenerateReplyV1> {
    const cancelSubject = inferenceCancelSubject(request.requestId);
    let index = 0;
    let cancelSubscription: MessagingSubscription | undefined;
    const send = (message: InferenceGenerateStreamMessageV1): void => {
      try {
        this.nats.publish(request.streamSubject, message);
      } catch (error) {
        this.logger.warn({
          msg: 'cannot publish to the stream subject',
          request_id: request.requestId,
          err: (error as Error).message,
        });
      }
    };
    let family: ToolCallFamily = 'generic';
    let gate: ToolCallStreamGate | undefined;
    const chunk = (text: string): void => {
      if (request.stream && text.length > 0) {
        send({ v: 1, type: 'chunk', requestId: request.requestId, index: index++, text });
      }
    };
    try {
      const tools = toolPlan(request);
      const started = await this.generation.start(
        {
          endpoint: 'nats',
          requestId: request.requestId,
          ownerId: request.ownerId,
          keyId: request.keyId,
          model: request.model,
          messages: request.messages,
          prompt: request.prompt,
          maxTokens: request.maxTokens,
          temperature: request.temperature,
          topP: request.topP,
          topK: request.topK,
          minP: request.minP,
          frequencyPenalty: request.frequencyPenalty,
          presencePenalty: request.presencePenalty,
          seed: request.seed,
          stop: request.stop,
          ...(tools.chatTools ? { tools: tools.chatTools } : {}),
          ...(tools.grammar ? { grammar: tools.grammar } : {}),
        },
        {
          onModel: (model) => {
            family = toolCallFamily(model.info.chatTemplate);
            if (tools.mode.kind === 'auto') gate = new ToolCallStreamGate(family);
          },
          onText: (text) => {
            // Text that may be a tool call is held back (auto) or never streamed (a forced call).
            if (tools.mode.kind === 'off') chunk(text);
            else if (gate) chunk(gate.push(text));
          },
          onFinish: (outcome) => {
            cancelSubscription?.unsubscribe();
            if (gate) chunk(gate.flush());
            const finishReason = publicFinishReason(outcome.finishReason);
            const result = chatChoiceResult(outcome.text, finishReason, tools.mode, family);
            const final: InferenceGenerateFinalV1 = {
              v: 1,
              type: 'final',
              requestId: request.requestId,
              text: result.toolCalls.length > 0 ? (result.content ?? '') : outcome.text,
              finishReason,
              promptTokens: outcome.promptTokens,
              completionTokens: outcome.completionTokens,
            };
            if (result.toolCalls.length > 0) {
              final.toolCalls = result.toolCalls.map((call) => ({
                id: call.id,
                name: call.function.name,
                arguments: call.function.arguments,
              }));
            }
            if (outcome.error) final.error = { code: 'generation_failed', message: outcome.error.message };
            send(final);
          },
        },
      );
      if (!started.job.done) cancelSubscription = this.nats.subscribe(cancelSubject, () => started.job.cancel());
      return { v: 1, accepted: true, requestId: request.requestId, promptTokens: started.promptTokens, cancelSubject };
    } catch (error) {
      if (error instanceof GenerationError) {
        return {
          v: 1,
          accepted: false,
          requestId: request.requestId,
          error: { code: error.code, message: error.message },
        };
      }
      throw error;
    }
  }
}

/** The request's tools as the chat template and the tool-call parser take them; a forced call gets its grammar. */
function toolPlan(request: InferenceGenerateRequestV1): { mode: ToolMode; chatTools?: ChatTool[]; grammar?: string } {
  const tools = request.tools ?? [];
  const choice = request.toolChoice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return { mode: { kind: 'off' } };
  const chatTools: ChatTool[] = tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      ...(tool.parameters !== undefined ? { parameters: tool.parameters } : {}),
    },
  }));
  const names = new Set(tools.map((tool) => tool.name));
  if (choice === 'auto') return { mode: { kind: 'auto', names }, chatTools };
  try {
    return {
      mode: { kind: 'required', names },
      chatTools,
      grammar: jsonSchemaToGrammar(requiredToolCallsSchema(chatTools, true)),
    };
  } catch (error) {
    throw new GenerationError(GenerationErrorCode.INVALID_REQUEST, `tools: ${(error as Error).message}`, 'tools');
  }
}

function modelView(entry: ModelEntry): InferenceModelsReplyV1['models'][number] {
  const model: InferenceModelsReplyV1['models'][number] = { id: entry.id, kind: entry.kind, state: entry.state };
  if (entry.error !== undefined) model.error = entry.error;
  if (entry.loaded?.kind === 'llm') model.contextSize = entry.loaded.sequenceContext;
  return model;
}
