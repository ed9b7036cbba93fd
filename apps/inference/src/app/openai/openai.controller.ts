// The OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions, POST /v1/completions. Thin: it turns
// the body into a GenerationRequest, streams or collects what GenerationService produces, and writes OpenAI's
// shapes. A client that goes away cancels its request, which leaves the batch at the next step.
import { Body, Controller, Get, HttpCode, Logger, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { PlatformConfig } from '@sovren/config';
import { ApiError, ApiErrorCode, RawResponse, type RequestWithId } from '@sovren/http';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import { jsonObjectGrammar, jsonSchemaToGrammar, JsonSchemaGrammarError } from '@sovren/engine';

import type { ChatMessage, ChatTool } from '../chat/chat-template.renderer';
import { requiredToolCallsSchema, toolCallFamily, type ToolCallFamily } from '../chat/tool-calls';
import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import {
  GenerationService,
  publicFinishReason,
  type GenerationListener,
  type GenerationRequest,
  type TokenText,
} from '../generation/generation.service';
import { ModelRegistry, type ModelKind } from '../models/model-registry.service';
import type { GenerationJob, JobOutcome } from '../scheduler/generation-job';
import { ChatChoiceStream, chatChoiceResult, type ToolMode } from './chat-choice';
import { ChatCompletionDto, messageText, type ChatMessageDto } from './dtos/chat-completion.dto';
import { COMPLETIONS_DEFAULT_MAX_TOKENS, CompletionDto, promptText } from './dtos/completion.dto';
import { logitBiasOf, stopList, type SamplingParamsDto } from './dtos/sampling-params.dto';
import {
  ChatCompletionChunkResponse,
  ChatCompletionResponse,
  ModelListResponse,
  serverSentEvents,
  TextCompletionResponse,
} from './dtos/openai.responses';
import { OpenAiExceptionFilter, writeOpenAiError } from './openai-exception.filter';
import {
  chatChoice,
  chatLogprobs,
  completionChoice,
  completionLogprobs,
  completionResponse,
  openAiFinishReason,
  streamChunk,
  usageChunk,
  usageOf,
  type OpenAiKind,
  type ResponseIdentity,
} from './openai-responses';
import { SseWriter } from './sse.writer';

/** How a request's output is read: chat tool modes (completions: always off) and whether logprobs are returned. */
interface OutputPlan {
  tools: ToolMode;
  logprobs: boolean;
}

@ApiTags('openai')
@ApiExtraModels(ChatCompletionChunkResponse)
@Controller('v1')
@RawResponse()
@UseFilters(OpenAiExceptionFilter)
export class OpenAiController {
  private readonly logger = new Logger(OpenAiController.name);

  constructor(
    private readonly generation: GenerationService,
    private readonly registry: ModelRegistry,
    private readonly config: PlatformConfig,
  ) {}

  @Get('models')
  @ApiOperation({ summary: 'The models this platform serves (OpenAI-compatible)' })
  @ApiOkResponse({
    description: 'The GGUF LLMs under models/llms and the Whisper models under models/whisper.',
    type: ModelListResponse,
  })
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  async models(): Promise<{
    object: 'list';
    data: Array<{ id: string; object: 'model'; created: number; owned_by: string; kind: ModelKind }>;
  }> {
    const models = await this.registry.discover();
    return {
      object: 'list',
      data: models.map((m) => ({
        id: m.id,
        object: 'model',
        created: Math.floor(m.modifiedAt.getTime() / 1000),
        owned_by: 'sovren',
        kind: m.kind,
      })),
    };
  }

  @Post('chat/completions')
  @ApiOperation({
    summary: 'Chat completion (OpenAI-compatible), whole or streamed',
    description:
      'Tools, response_format (grammar-constrained JSON), logprobs, n, logit_bias; `stream: true` answers SSE.',
  })
  @ApiOkResponse({
    description: 'The completion, or with `stream: true` its chunks as server-sent events.',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(ChatCompletionResponse) } },
      'text/event-stream': serverSentEvents('chat.completion.chunk'),
    },
  })
  @ApiExtraModels(ChatCompletionResponse)
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  async chat(
    @Body() body: ChatCompletionDto,
    @CurrentAuth() auth: RequestAuth | undefined,
    @Req() req: RequestWithId,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = this.requestOf('chat', body, auth, req);
    request.messages = body.messages.map(chatMessageOf);
    request.maxTokens = body.max_completion_tokens ?? body.max_tokens;
    if (body.top_logprobs !== undefined && body.logprobs !== true) {
      throw invalid('top_logprobs needs logprobs: true', 'top_logprobs');
    }
    if (body.logprobs === true) request.logprobs = body.top_logprobs ?? 0;
    const tools = toolModeOf(body, request);
    if (tools.kind === 'off' || tools.kind === 'auto') {
      const grammar = responseFormatGrammar(body);
      if (grammar !== undefined) request.grammar = grammar;
    }
    await this.serve('chat', body, request, { tools, logprobs: body.logprobs === true }, req, res);
  }

  @Post('completions')
  @ApiOperation({ summary: 'Text completion of one prompt (OpenAI legacy API), whole or streamed' })
  @ApiOkResponse({
    description: 'The completion, or with `stream: true` its chunks as server-sent events.',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(TextCompletionResponse) } },
      'text/event-stream': serverSentEvents('text_completion'),
    },
  })
  @ApiExtraModels(TextCompletionResponse)
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  async completions(
    @Body() body: CompletionDto,
    @CurrentAuth() auth: RequestAuth | undefined,
    @Req() req: RequestWithId,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = this.requestOf('completions', body, auth, req);
    request.prompt = promptText(body.prompt);
    request.maxTokens = body.max_tokens ?? COMPLETIONS_DEFAULT_MAX_TOKENS;
    if (body.logprobs !== undefined) request.logprobs = body.logprobs;
    const plan: OutputPlan = { tools: { kind: 'off' }, logprobs: body.logprobs !== undefined };
    await this.serve('completions', body, request, plan, req, res);
  }

  private requestOf(
    kind: OpenAiKind,
    body: SamplingParamsDto,
    auth: RequestAuth | undefined,
    req: RequestWithId,
  ): GenerationRequest {
    const ownerId = auth?.identity.userId;
    if (!ownerId)
      throw new ApiError(
        401,
        ApiErrorCode.UNAUTHORIZED,
        'authentication required: send an API key as Authorization: Bearer',
      );
    const request: GenerationRequest = {
      endpoint: kind,
      requestId: req.requestId ?? randomUUID(),
      ownerId,
      model: body.model,
      temperature: body.temperature,
      topP: body.top_p,
      topK: body.top_k,
      minP: body.min_p,
      frequencyPenalty: body.frequency_penalty,
      presencePenalty: body.presence_penalty,
      seed: body.seed,
      stop: stopList(body.stop),
    };
    const logitBias = logitBiasOf(body.logit_bias);
    if (logitBias) request.logitBias = logitBias;
    if (auth?.identity.apiKeyId) request.keyId = auth.identity.apiKeyId;
    if (auth?.scopes.includes('inference:admin')) request.modelAdmin = true;
    return request;
  }

  private async serve(
    kind: OpenAiKind,
    body: SamplingParamsDto,
    request: GenerationRequest,
    plan: OutputPlan,
    req: RequestWithId,
    res: ServerResponse,
  ): Promise<void> {
    const identity: ResponseIdentity = {
      kind,
      id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`,
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      systemFingerprint: `fp_sovren_${this.config.version}`,
    };
    const context = { request_id: request.requestId, model: request.model, endpoint: kind, user: body.user };
    const choices = body.n ?? 1;
    if (body.stream === true)
      await this.stream(identity, body.stream_options?.include_usage === true, request, plan, choices, res, context);
    else await this.collect(identity, request, plan, choices, res, context);
  }

  private async collect(
    identity: ResponseIdentity,
    request: GenerationRequest,
    plan: OutputPlan,
    choices: number,
    res: ServerResponse,
    context: Record<string, unknown>,
  ): Promise<void> {
    let family: ToolCallFamily = 'generic';
    let jobs: GenerationJob[] = [];
    const logprobs: TokenText[][] = Array.from({ length: choices }, () => []);
    const outcomes: Array<Promise<JobOutcome>> = [];
    const listeners: GenerationListener[] = [];
    for (let i = 0; i < choices; i++) {
      let finished: (outcome: JobOutcome) => void = () => undefined;
      outcomes.push(new Promise<JobOutcome>((resolve) => (finished = resolve)));
      listeners.push({
        onModel: (model) => (family = toolCallFamily(model.info.chatTemplate)),
        onText: (_delta, tokens) => {
          if (tokens) logprobs[i].push(...tokens);
        },
        onFinish: (o) => {
          // One failed choice fails the answer: the others stop at their next step.
          if (o.finishReason === 'error') for (const job of jobs) job.cancel();
          finished(o);
        },
      });
    }
    const started = await this.generation.startChoices(request, listeners);
    jobs = started.jobs;
    for (const job of started.jobs) cancelOnDisconnect(res, job);
    const results = await Promise.all(outcomes);
    if (res.destroyed) return;
    const failed = results.find((r) => r.finishReason === 'error');
    if (failed) {
      writeOpenAiError(res, failed.error ?? new Error('generation failed'), this.logger, context);
      return;
    }
    const bodyChoices = results.map((result, index) => {
      const reason = publicFinishReason(result.finishReason);
      if (identity.kind === 'completions') {
        const lp = plan.logprobs ? completionLogprobs(logprobs[index], 0) : null;
        return completionChoice(index, result.text, openAiFinishReason(reason), lp);
      }
      const message = chatChoiceResult(result.text, reason, plan.tools, family);
      const lp = plan.logprobs ? chatLogprobs(logprobs[index]) : null;
      return chatChoice(index, message, message.finishReason, lp);
    });
    const body = completionResponse(identity, bodyChoices, usageOf(results));
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }

  private async stream(
    identity: ResponseIdentity,
    includeUsage: boolean,
    request: GenerationRequest,
    plan: OutputPlan,
    choices: number,
    res: ServerResponse,
    context: Record<string, unknown>,
  ): Promise<void> {
    const sse = new SseWriter(res);
    const outcomes: JobOutcome[] = [];
    let open = choices;
    let failed = false;
    let jobs: GenerationJob[] = [];
    const listeners: GenerationListener[] = [];
    for (let index = 0; index < choices; index++) {
      let chat: ChatChoiceStream | undefined;
      /** Logprobs of text the tool gate holds back, sent with the next chunk of this choice. */
      let pending: TokenText[] = [];
      let textOffset = 0;
      const logprobsOf = (tokens: readonly TokenText[] | undefined): Record<string, unknown> | null => {
        if (!plan.logprobs) return null;
        const all = [...pending, ...(tokens ?? [])];
        pending = [];
        if (identity.kind === 'chat') return chatLogprobs(all);
        const lp = completionLogprobs(all, textOffset);
        for (const t of all) textOffset += t.token.length;
        return lp;
      };
      listeners.push({
        onModel: (model) => (chat = new ChatChoiceStream(plan.tools, toolCallFamily(model.info.chatTemplate))),
        onText: (delta, tokens) => {
          if (failed) return;
          if (identity.kind === 'completions') {
            sse.send(streamChunk(identity, index, { content: delta }, null, includeUsage, logprobsOf(tokens)));
            return;
          }
          const deltas = chat?.push(delta) ?? [{ content: delta }];
          if (deltas.length === 0) {
            if (tokens) pending.push(...tokens);
            return;
          }
          deltas.forEach((d, i) =>
            sse.send(streamChunk(identity, index, d, null, includeUsage, i === 0 ? logprobsOf(tokens) : null)),
          );
        },
        onFinish: (outcome) => {
          outcomes[index] = outcome;
          open -= 1;
          if (failed) return;
          if (outcome.finishReason === 'error') {
            failed = true;
            for (const job of jobs) job.cancel();
            this.logger.error({ msg: 'stream ended by an engine error', ...context, err: outcome.error?.message });
            sse.send({
              error: {
                message: 'The server had an error while generating',
                type: 'server_error',
                param: null,
                code: null,
              },
            });
            res.end();
            return;
          }
          const reason = publicFinishReason(outcome.finishReason);
          if (identity.kind === 'chat' && chat) {
            const end = chat.finish(reason);
            end.deltas.forEach((d, i) =>
              sse.send(streamChunk(identity, index, d, null, includeUsage, i === 0 ? logprobsOf([]) : null)),
            );
            sse.send(streamChunk(identity, index, null, end.finishReason, includeUsage));
          } else sse.send(streamChunk(identity, index, null, openAiFinishReason(reason), includeUsage));
          if (open > 0) return;
          if (includeUsage) sse.send(usageChunk(identity, usageOf(outcomes)));
          sse.done();
        },
      });
    }
    const started = await this.generation.startChoices(request, listeners);
    jobs = started.jobs;
    // Headers and the role chunks go out at once, so the client sees the stream open before the first token.
    if (identity.kind === 'chat') {
      for (let index = 0; index < choices; index++) {
        sse.send(streamChunk(identity, index, { role: 'assistant', content: '' }, null, includeUsage));
      }
    } else sse.open();
    for (const job of started.jobs) cancelOnDisconnect(res, job);
  }
}

function invalid(message: string, param: string): GenerationError {
  return new GenerationError(GenerationErrorCode.INVALID_REQUEST, message, param);
}

/** A chat message for the template: tool-call arguments as objects when they parse (templates apply tojson). */
function chatMessageOf(m: ChatMessageDto, index: number): ChatMessage {
  const message: ChatMessage = { role: m.role, content: messageText(m.content) };
  if (m.tool_calls && m.tool_calls.length > 0) {
    if (m.role !== 'assistant')
      throw invalid('only assistant messages carry tool_calls', `messages[${index}].tool_calls`);
    message.tool_calls = m.tool_calls.map((c) => ({
      id: c.id,
      type: 'function',
      function: { name: c.function.name, arguments: parseArguments(c.function.arguments) },
    }));
  }
  if (m.role === 'tool') {
    if (m.tool_call_id === undefined)
      throw invalid('a tool message needs tool_call_id', `messages[${index}].tool_call_id`);
    message.tool_call_id = m.tool_call_id;
  }
  if (m.name !== undefined) message.name = m.name;
  return message;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Arguments that are not JSON (a model's slip earlier in the conversation) reach the template as text.
    return text;
  }
}

/** tools + tool_choice → the tool mode; puts the tools (and, when a call is forced, its grammar) on the request. */
function toolModeOf(body: ChatCompletionDto, request: GenerationRequest): ToolMode {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? 'auto' : 'none');
  if (tools.length === 0) {
    if (choice !== 'none') throw invalid('tool_choice is only allowed when tools are given', 'tool_choice');
    if (body.parallel_tool_calls !== undefined) {
      throw invalid('parallel_tool_calls is only allowed when tools are given', 'parallel_tool_calls');
    }
    return { kind: 'off' };
  }
  const names = new Set<string>();
  for (const tool of tools) {
    if (names.has(tool.function.name)) throw invalid(`tools name ${tool.function.name} twice`, 'tools');
    names.add(tool.function.name);
  }
  if (choice === 'none') return { kind: 'off' };
  const chatTools: ChatTool[] = tools.map((t) => {
    const fn: ChatTool['function'] = { name: t.function.name };
    if (t.function.description !== undefined) fn.description = t.function.description;
    if (t.function.parameters !== undefined) fn.parameters = t.function.parameters;
    return { type: 'function', function: fn };
  });
  request.tools = chatTools;
  if (choice === 'auto') return { kind: 'auto', names };
  if (choice === 'required') {
    const schema = requiredToolCallsSchema(chatTools, body.parallel_tool_calls !== false);
    request.grammar = compileSchema(schema, 'tools');
    return { kind: 'required', names };
  }
  const tool = chatTools.find((t) => t.function.name === choice.function.name);
  if (!tool) throw invalid(`tool_choice names ${choice.function.name}, which is not in tools`, 'tool_choice');
  request.grammar = compileSchema(tool.function.parameters ?? { type: 'object' }, 'tools');
  return { kind: 'named', name: tool.function.name };
}

function responseFormatGrammar(body: ChatCompletionDto): string | undefined {
  const format = body.response_format;
  if (format === undefined || format.type === 'text') return undefined;
  if (format.type === 'json_object') return jsonObjectGrammar();
  if (!format.json_schema) throw invalid('response_format json_schema needs json_schema', 'response_format');
  return compileSchema(format.json_schema.schema ?? {}, 'response_format.json_schema.schema');
}

function compileSchema(schema: unknown, param: string): string {
  try {
    return jsonSchemaToGrammar(schema);
  } catch (error) {
    if (error instanceof JsonSchemaGrammarError) throw invalid(error.message, param);
    throw error;
  }
}

/** A client that goes away (also while the model was still loading) frees its sequence at the next step. */
function cancelOnDisconnect(res: ServerResponse, job: { cancel(): void }): void {
  if (res.destroyed) {
    job.cancel();
    return;
  }
  res.once('close', () => {
    if (!res.writableFinished) job.cancel();
  });
}
