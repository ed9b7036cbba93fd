// Platform API for models of both kinds, LLMs and Whisper (envelope responses): metadata of one model, and admin
// load / unload.
import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { AuthRoute } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode, assertUnreachable } from '@sovren/http';

import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import { ModelMetadataResponse, UnloadedModelResponse } from './model.responses';
import { ModelRegistry, type ModelEntry, type ModelKind } from './model-registry.service';

export interface ModelMetadata {
  id: string;
  kind: ModelKind;
  state: ModelEntry['state'];
  error: string | null;
  file_bytes: number;
  modified_at: string;
  /** Present once loaded: what the engine read from the GGUF. */
  loaded: null | {
    loaded_at: string;
    name: string;
    architecture: string;
    parameter_count: number;
    context_size: number;
    training_context_size: number;
    vocab_size: number;
    tokenizer: string;
    has_chat_template: boolean;
    backend: string;
    threads: number;
    tensor_types: Record<string, { tensors: number; elements: number }>;
    active_sequences: number;
    queued_requests: number;
  };
  /** Present once a Whisper model is loaded: what the engine read from its file. */
  whisper: null | {
    loaded_at: string;
    multilingual: boolean;
    n_vocab: number;
    n_mels: number;
    n_audio_ctx: number;
    n_audio_state: number;
    n_audio_layer: number;
    n_text_ctx: number;
    n_text_state: number;
    n_text_layer: number;
    weight_types: string;
    backend: string;
    threads: number;
    active_transcriptions: number;
  };
}

@ApiTags('models')
@ApiParam({ name: 'id', description: 'The model id (file stem; ggml-<id>.bin for Whisper), as /v1/models lists it' })
@Controller('api/v1/inference/models')
export class ModelsController {
  constructor(private readonly registry: ModelRegistry) {}

  @Get(':id')
  @ApiOperation({ summary: "A model's state and, once loaded, what the engine read from its GGUF" })
  @ApiOkResponse({ description: 'The model.', type: ModelMetadataResponse })
  @AuthRoute({ routeClass: 'inference', scopes: ['inference:generate'] })
  async metadata(@Param('id') id: string): Promise<ModelMetadata> {
    return metadataOf(await this.entry(id));
  }

  @Post(':id/load')
  @ApiOperation({ summary: 'Load a model (answers once it is loaded)' })
  @ApiOkResponse({ description: 'The loaded model.', type: ModelMetadataResponse })
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', roles: ['admin'], scopes: ['inference:admin'] })
  async load(@Param('id') id: string): Promise<ModelMetadata> {
    try {
      await this.registry.load(id);
    } catch (error) {
      throw platformError(error);
    }
    return metadataOf(await this.entry(id));
  }

  @Post(':id/unload')
  @ApiOperation({ summary: 'Unload a model (its running requests finish first)' })
  @ApiOkResponse({ description: 'The model, now unloaded.', type: UnloadedModelResponse })
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', roles: ['admin'], scopes: ['inference:admin'] })
  async unload(@Param('id') id: string): Promise<ModelMetadata & { was_loaded: boolean }> {
    let wasLoaded: boolean;
    try {
      wasLoaded = await this.registry.unload(id);
    } catch (error) {
      throw platformError(error);
    }
    return { ...metadataOf(await this.entry(id)), was_loaded: wasLoaded };
  }

  private async entry(id: string): Promise<ModelEntry> {
    try {
      return await this.registry.find(id);
    } catch (error) {
      throw platformError(error);
    }
  }
}

function metadataOf(entry: ModelEntry): ModelMetadata {
  const loaded = entry.loaded?.kind === 'llm' ? entry.loaded : undefined;
  const whisper = entry.loaded?.kind === 'whisper' ? entry.loaded : undefined;
  return {
    id: entry.id,
    kind: entry.kind,
    state: entry.state,
    error: entry.error ?? null,
    file_bytes: entry.fileBytes,
    modified_at: entry.modifiedAt.toISOString(),
    loaded: loaded
      ? {
          loaded_at: loaded.loadedAt.toISOString(),
          name: loaded.info.name,
          architecture: loaded.info.architecture,
          parameter_count: loaded.info.parameterCount,
          context_size: loaded.sequenceContext,
          training_context_size: loaded.info.trainingContextSize,
          vocab_size: loaded.info.vocabSize,
          tokenizer: loaded.info.tokenizerModel,
          has_chat_template: loaded.info.chatTemplate !== null,
          backend: loaded.info.backend,
          threads: loaded.info.threads,
          tensor_types: loaded.info.tensorTypes,
          active_sequences: loaded.scheduler.active,
          queued_requests: loaded.scheduler.queued,
        }
      : null,
    whisper: whisper
      ? {
          loaded_at: whisper.loadedAt.toISOString(),
          multilingual: whisper.info.multilingual,
          n_vocab: whisper.info.nVocab,
          n_mels: whisper.info.nMels,
          n_audio_ctx: whisper.info.nAudioCtx,
          n_audio_state: whisper.info.nAudioState,
          n_audio_layer: whisper.info.nAudioLayer,
          n_text_ctx: whisper.info.nTextCtx,
          n_text_state: whisper.info.nTextState,
          n_text_layer: whisper.info.nTextLayer,
          weight_types: whisper.info.weightTypes,
          backend: whisper.info.backend,
          threads: whisper.info.threads,
          active_transcriptions: whisper.inFlight,
        }
      : null,
  };
}

/** GenerationError in the platform envelope (this controller is not OpenAI-compatible). */
function platformError(error: unknown): unknown {
  if (!(error instanceof GenerationError)) return error;
  switch (error.code) {
    case GenerationErrorCode.MODEL_NOT_FOUND:
      return new ApiError(404, ApiErrorCode.NOT_FOUND, error.message);
    case GenerationErrorCode.MODEL_UNAVAILABLE:
    case GenerationErrorCode.MODEL_UNLOADING:
    case GenerationErrorCode.MODEL_NOT_LOADED:
    case GenerationErrorCode.MODEL_MEMORY_EXCEEDED:
    case GenerationErrorCode.QUEUE_FULL:
      return new ApiError(503, ApiErrorCode.SERVICE_UNAVAILABLE, error.message);
    case GenerationErrorCode.CONCURRENCY_LIMIT:
      return new ApiError(429, ApiErrorCode.RATE_LIMITED, error.message);
    case GenerationErrorCode.CONTEXT_LENGTH_EXCEEDED:
    case GenerationErrorCode.INVALID_REQUEST:
      return new ApiError(400, ApiErrorCode.BAD_REQUEST, error.message);
    default:
      return assertUnreachable(error.code, 'GenerationErrorCode');
  }
}
