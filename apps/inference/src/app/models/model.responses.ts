// OpenAPI shape of a model's metadata (GET /api/v1/inference/models/:id, load, unload); the class implements the
// type the routes return, so they cannot drift.
import { ApiProperty } from '@nestjs/swagger';
import {
  INFERENCE_MODEL_KINDS,
  INFERENCE_MODEL_STATES,
  type InferenceModelKind,
  type InferenceModelState,
} from '@sovren/messaging';

import type { ModelMetadata } from './models.controller';

type LoadedModel = NonNullable<ModelMetadata['loaded']>;
type LoadedWhisper = NonNullable<ModelMetadata['whisper']>;

class LoadedModelResponse implements LoadedModel {
  @ApiProperty({ format: 'date-time' }) loaded_at!: string;
  @ApiProperty({ description: 'general.name from the GGUF' }) name!: string;
  @ApiProperty({ example: 'llama' }) architecture!: string;
  @ApiProperty() parameter_count!: number;
  @ApiProperty({ description: 'Context of each sequence as served' }) context_size!: number;
  @ApiProperty() training_context_size!: number;
  @ApiProperty() vocab_size!: number;
  @ApiProperty({ example: 'gpt2' }) tokenizer!: string;
  @ApiProperty() has_chat_template!: boolean;
  @ApiProperty({ example: 'cpu-avx2' }) backend!: string;
  @ApiProperty() threads!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: {
      type: 'object',
      properties: { tensors: { type: 'integer' }, elements: { type: 'integer' } },
    },
    description: 'Per tensor type (F32, Q4_K, ...): how many tensors and elements',
  })
  tensor_types!: Record<string, { tensors: number; elements: number }>;
  @ApiProperty() active_sequences!: number;
  @ApiProperty() queued_requests!: number;
}

class LoadedWhisperResponse implements LoadedWhisper {
  @ApiProperty({ format: 'date-time' }) loaded_at!: string;
  @ApiProperty({ description: 'Whether the model has language and task tokens' }) multilingual!: boolean;
  @ApiProperty() n_vocab!: number;
  @ApiProperty({ example: 80 }) n_mels!: number;
  @ApiProperty({ example: 1500 }) n_audio_ctx!: number;
  @ApiProperty() n_audio_state!: number;
  @ApiProperty() n_audio_layer!: number;
  @ApiProperty() n_text_ctx!: number;
  @ApiProperty() n_text_state!: number;
  @ApiProperty() n_text_layer!: number;
  @ApiProperty({ example: 'F16', description: 'The weight types in the file' }) weight_types!: string;
  @ApiProperty({ example: 'cpu-avx2' }) backend!: string;
  @ApiProperty() threads!: number;
  @ApiProperty({ description: 'Transcriptions running or queued now' }) active_transcriptions!: number;
}

export class ModelMetadataResponse implements ModelMetadata {
  @ApiProperty({ description: 'The file stem (ggml-<id>.bin for Whisper)' }) id!: string;
  @ApiProperty({ enum: INFERENCE_MODEL_KINDS, description: 'llm (models/llms) or whisper (models/whisper)' })
  kind!: InferenceModelKind;
  @ApiProperty({ enum: INFERENCE_MODEL_STATES }) state!: InferenceModelState;
  @ApiProperty({ type: String, nullable: true, description: 'Why the last load failed' }) error!: string | null;
  @ApiProperty() file_bytes!: number;
  @ApiProperty({ format: 'date-time' }) modified_at!: string;
  @ApiProperty({
    type: LoadedModelResponse,
    nullable: true,
    description: 'Once an LLM is loaded: what the engine read',
  })
  loaded!: LoadedModelResponse | null;
  @ApiProperty({
    type: LoadedWhisperResponse,
    nullable: true,
    description: 'Once a Whisper model is loaded: what the engine read',
  })
  whisper!: LoadedWhisperResponse | null;
}

export class UnloadedModelResponse extends ModelMetadataResponse {
  @ApiProperty({ description: 'Whether the model was loaded before this call' }) was_loaded!: boolean;
}
