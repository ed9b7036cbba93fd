// OpenAPI shapes of the OpenAI-compatible answers (openai-responses.ts builds them field for field as OpenAI sends
// them); classes implement the types the code builds where one exists, so they cannot drift.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { INFERENCE_MODEL_KINDS, type InferenceModelKind } from '@sovren/messaging';

import type { OpenAiToolCall, OpenAiUsage } from '../openai-responses';

const FINISH_REASONS = ['stop', 'length', 'tool_calls'];
const LOGPROBS = {
  type: 'object',
  nullable: true,
  additionalProperties: true,
  description: 'Chat: `{content: [{token, logprob, bytes, top_logprobs}], refusal}`; completions: parallel arrays',
} as const;

class PromptTokensDetailsResponse {
  @ApiProperty({ description: 'Prompt tokens restored from the prefix cache instead of evaluated' })
  cached_tokens!: number;
}

export class UsageResponse implements OpenAiUsage {
  @ApiProperty() prompt_tokens!: number;
  @ApiProperty() completion_tokens!: number;
  @ApiProperty() total_tokens!: number;
  @ApiProperty({ type: PromptTokensDetailsResponse }) prompt_tokens_details!: PromptTokensDetailsResponse;
}

export class ModelResponse {
  @ApiProperty({
    description: 'The file stem: <id>.gguf under models/llms, ggml-<id>.bin under models/whisper',
    example: 'demo-random-weights',
  })
  id!: string;
  @ApiProperty({ enum: ['model'] }) object!: 'model';
  @ApiProperty({ description: 'Unix time the model file was last modified' }) created!: number;
  @ApiProperty({ example: 'sovren' }) owned_by!: string;
  @ApiProperty({
    enum: INFERENCE_MODEL_KINDS,
    description: 'SOVREN extension: llm (chat, completions, embeddings) or whisper (audio transcriptions)',
  })
  kind!: InferenceModelKind;
}

export class ModelListResponse {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ type: [ModelResponse] }) data!: ModelResponse[];
}

class ToolCallFunctionResponse {
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The arguments as a JSON text' }) arguments!: string;
}

class ToolCallResponse implements OpenAiToolCall {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: ['function'] }) type!: 'function';
  @ApiProperty({ type: ToolCallFunctionResponse }) function!: ToolCallFunctionResponse;
}

class AssistantMessageResponse {
  @ApiProperty({ enum: ['assistant'] }) role!: 'assistant';
  @ApiProperty({ type: String, nullable: true }) content!: string | null;
  @ApiProperty({ type: String, nullable: true, enum: [null] }) refusal!: null;
  @ApiPropertyOptional({ type: [ToolCallResponse] }) tool_calls?: ToolCallResponse[];
}

class ChatChoiceResponse {
  @ApiProperty() index!: number;
  @ApiProperty({ type: AssistantMessageResponse }) message!: AssistantMessageResponse;
  @ApiProperty(LOGPROBS) logprobs!: Record<string, unknown> | null;
  @ApiProperty({ enum: FINISH_REASONS }) finish_reason!: string;
}

class CompletionHeader {
  @ApiProperty({ example: 'chatcmpl-0f6a...' }) id!: string;
  @ApiProperty() created!: number;
  @ApiProperty() model!: string;
  @ApiProperty({ example: 'fp_sovren_0.1.0' }) system_fingerprint!: string;
}

export class ChatCompletionResponse extends CompletionHeader {
  @ApiProperty({ enum: ['chat.completion'] }) object!: 'chat.completion';
  @ApiProperty({ type: [ChatChoiceResponse] }) choices!: ChatChoiceResponse[];
  @ApiProperty({ type: UsageResponse }) usage!: UsageResponse;
}

class TextChoiceResponse {
  @ApiProperty() text!: string;
  @ApiProperty() index!: number;
  @ApiProperty(LOGPROBS) logprobs!: Record<string, unknown> | null;
  @ApiProperty({ enum: FINISH_REASONS, nullable: true }) finish_reason!: string | null;
}

export class TextCompletionResponse extends CompletionHeader {
  @ApiProperty({ enum: ['text_completion'] }) object!: 'text_completion';
  @ApiProperty({ type: [TextChoiceResponse] }) choices!: TextChoiceResponse[];
  @ApiProperty({ type: UsageResponse, description: 'On stream chunks: null, or only on the last with include_usage' })
  usage!: UsageResponse | null;
}

class ChatDeltaResponse {
  @ApiPropertyOptional({ enum: ['assistant'] }) role?: 'assistant';
  @ApiPropertyOptional({ type: String, nullable: true }) content?: string | null;
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Pieces of tool calls: the first carries index, id, type and name; later ones argument text',
  })
  tool_calls?: Array<Record<string, unknown>>;
}

class ChatChunkChoiceResponse {
  @ApiProperty() index!: number;
  @ApiProperty({ type: ChatDeltaResponse }) delta!: ChatDeltaResponse;
  @ApiProperty(LOGPROBS) logprobs!: Record<string, unknown> | null;
  @ApiProperty({ enum: FINISH_REASONS, nullable: true }) finish_reason!: string | null;
}

export class ChatCompletionChunkResponse extends CompletionHeader {
  @ApiProperty({ enum: ['chat.completion.chunk'] }) object!: 'chat.completion.chunk';
  @ApiProperty({ type: [ChatChunkChoiceResponse], description: 'Empty on the usage chunk' })
  choices!: ChatChunkChoiceResponse[];
  @ApiPropertyOptional({ type: UsageResponse, nullable: true, description: 'With stream_options.include_usage' })
  usage?: UsageResponse | null;
}

class EmbeddingResponse {
  @ApiProperty({ enum: ['embedding'] }) object!: 'embedding';
  @ApiProperty() index!: number;
  @ApiProperty({
    oneOf: [
      { type: 'array', items: { type: 'number' } },
      { type: 'string', format: 'byte' },
    ],
    description: 'Floats, or with encoding_format base64 the little-endian float32 bytes in base64',
  })
  embedding!: number[] | string;
}

class EmbeddingUsageResponse {
  @ApiProperty() prompt_tokens!: number;
  @ApiProperty() total_tokens!: number;
}

export class EmbeddingListResponse {
  @ApiProperty({ enum: ['list'] }) object!: 'list';
  @ApiProperty({ type: [EmbeddingResponse] }) data!: EmbeddingResponse[];
  @ApiProperty() model!: string;
  @ApiProperty({ type: EmbeddingUsageResponse }) usage!: EmbeddingUsageResponse;
}

/** The text/event-stream answer of `stream: true`: `data: <chunk JSON>` events, then `data: [DONE]`. */
export function serverSentEvents(chunk: string): { schema: { type: 'string'; description: string } } {
  return {
    schema: {
      type: 'string',
      description: `Server-sent events: \`data: <${chunk} JSON>\` per event, then \`data: [DONE]\`.`,
    },
  };
}
