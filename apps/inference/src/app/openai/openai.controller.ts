// The OpenAI-compatible API: GET /v1/models, POST /v1/chat/completions, POST /v1/completions. Thin: it turns
// the body into a GenerationRequest, streams or collects what GenerationService produces, and writes OpenAI's
// shapes. A client that goes away cancels its request, which leaves the batch at the next step.
import { Body, Controller, Get, HttpCode, Logger, Post, Req, Res, UseFilters } from '@nestjs/common';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { PlatformConfig } from '@sovren/config';
import { ApiError, ApiErrorCode, RawResponse, type RequestWithId } from '@sovren/http';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import { GenerationService, publicFinishReason, type GenerationRequest } from '../generation/generation.service';
import { ModelRegistry } from '../models/model-registry.service';
import type { JobOutcome } from '../scheduler/generation-job';
import { ChatCompletionDto, messageText } from './dtos/chat-completion.dto';
import { COMPLETIONS_DEFAULT_MAX_TOKENS, CompletionDto, promptText } from './dtos/completion.dto';
import { stopList, type SamplingParamsDto } from './dtos/sampling-params.dto';
import { OpenAiExceptionFilter, writeOpenAiError } from './openai-exception.filter';
import {
  completionResponse,
  openAiFinishReason,
  streamChunk,
  usageChunk,
  usageOf,
  type OpenAiKind,
  type ResponseIdentity,
} from './openai-responses';
import { SseWriter } from './sse.writer';

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
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  async models(): Promise<{
    object: 'list';
    data: Array<{ id: string; object: 'model'; created: number; owned_by: string }>;
  }> {
    const models = await this.registry.discover();
    return {
      object: 'list',
      data: models.map((m) => ({
        id: m.id,
        object: 'model',
        created: Math.floor(m.modifiedAt.getTime() / 1000),
        owned_by: 'sovren',
      })),
    };
  }

  @Post('chat/completions')
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  async chat(
    @Body() body: ChatCompletionDto,
    @CurrentAuth() auth: RequestAuth | undefined,
    @Req() req: RequestWithId,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const request = this.requestOf('chat', body, auth, req);
    request.messages = body.messages.map((m) => ({ role: m.role, content: messageText(m.content) }));
    request.maxTokens = body.max_completion_tokens ?? body.max_tokens;
    await this.serve('chat', body, request, req, res);
  }

  @Post('completions')
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
    await this.serve('completions', body, request, req, res);
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
    if (auth?.identity.apiKeyId) request.keyId = auth.identity.apiKeyId;
    if (auth?.scopes.includes('inference:admin')) request.modelAdmin = true;
    return request;
  }

  private async serve(
    kind: OpenAiKind,
    body: SamplingParamsDto,
    request: GenerationRequest,
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
    const context = { request_id: request.requestId, model: request.model, endpoint: kind };
    if (body.stream === true)
      await this.stream(identity, body.stream_options?.include_usage === true, request, res, context);
    else await this.collect(identity, request, res, context);
  }

  private async collect(
    identity: ResponseIdentity,
    request: GenerationRequest,
    res: ServerResponse,
    context: Record<string, unknown>,
  ): Promise<void> {
    let finished: (outcome: JobOutcome) => void = () => undefined;
    const outcome = new Promise<JobOutcome>((resolve) => (finished = resolve));
    const started = await this.generation.start(request, { onText: () => undefined, onFinish: (o) => finished(o) });
    cancelOnDisconnect(res, started.job);
    const result = await outcome;
    if (res.destroyed) return;
    if (result.finishReason === 'error') {
      writeOpenAiError(res, result.error ?? new Error('generation failed'), this.logger, context);
      return;
    }
    const body = completionResponse(
      identity,
      result.text,
      openAiFinishReason(publicFinishReason(result.finishReason)),
      usageOf(result.promptTokens, result.completionTokens),
    );
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }

  private async stream(
    identity: ResponseIdentity,
    includeUsage: boolean,
    request: GenerationRequest,
    res: ServerResponse,
    context: Record<string, unknown>,
  ): Promise<void> {
    const sse = new SseWriter(res);
    const started = await this.generation.start(request, {
      onText: (delta) => sse.send(streamChunk(identity, { content: delta }, null, includeUsage)),
      onFinish: (outcome) => {
        if (outcome.finishReason === 'error') {
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
        const reason = openAiFinishReason(publicFinishReason(outcome.finishReason));
        sse.send(streamChunk(identity, null, reason, includeUsage));
        if (includeUsage) sse.send(usageChunk(identity, usageOf(outcome.promptTokens, outcome.completionTokens)));
        sse.done();
      },
    });
    // Headers and the role chunk go out at once, so the client sees the stream open before the first token.
    if (identity.kind === 'chat')
      sse.send(streamChunk(identity, { role: 'assistant', content: '' }, null, includeUsage));
    else sse.open();
    cancelOnDisconnect(res, started.job);
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
