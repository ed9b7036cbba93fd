// Body of POST /v1/chat/completions (OpenAI's shape; the fields this service supports).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { INFERENCE_CHAT_ROLES, type InferenceChatRole } from '@sovren/messaging';

import { MAX_TOP_LOGPROBS, SamplingParamsDto } from './sampling-params.dto';

export interface TextContentPart {
  type: 'text';
  text: string;
}

function isTextPart(value: unknown): value is TextContentPart {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'text' &&
    typeof (value as { text?: unknown }).text === 'string'
  );
}

/** Function names as OpenAI allows them. */
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export class ToolCallFunctionDto {
  @ApiProperty({ example: 'get_weather' })
  @IsString()
  @Length(1, 64)
  name!: string;

  /** The arguments as a JSON text, as the model produced them. */
  @ApiProperty({ example: '{"city":"Paris"}' })
  @IsString()
  @Length(0, 1_000_000)
  arguments!: string;
}

export class ToolCallDto {
  @ApiProperty({ example: 'call_abc123' })
  @IsString()
  @Length(1, 256)
  id!: string;

  @ApiProperty({ enum: ['function'] })
  @IsIn(['function'])
  type!: 'function';

  @ApiProperty({ type: ToolCallFunctionDto })
  @ValidateNested()
  @Type(() => ToolCallFunctionDto)
  function!: ToolCallFunctionDto;
}

export class ChatMessageDto {
  @ApiProperty({ enum: INFERENCE_CHAT_ROLES })
  @IsIn(INFERENCE_CHAT_ROLES)
  role!: InferenceChatRole;

  /**
   * A string, or an array of `{ type: 'text', text }` parts (other part types need a multimodal model); null or
   * absent only on an assistant message with tool_calls.
   */
  @ApiPropertyOptional({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
    nullable: true,
  })
  @ValidateBy({
    name: 'isMessageContent',
    validator: {
      validate: (value: unknown, args) => {
        if (value === null || value === undefined) {
          const message = args?.object as ChatMessageDto | undefined;
          return message?.role === 'assistant' && Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
        }
        return typeof value === 'string' || (Array.isArray(value) && value.every(isTextPart));
      },
      defaultMessage: () =>
        "content must be a string or an array of { type: 'text', text } parts (null only next to tool_calls)",
    },
  })
  content!: string | TextContentPart[] | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 256)
  name?: string;

  /** An assistant message's tool calls (the history of a tool-call round trip). */
  @ApiPropertyOptional({ type: [ToolCallDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(128)
  @ValidateNested({ each: true })
  @Type(() => ToolCallDto)
  tool_calls?: ToolCallDto[];

  /** An assistant message's refusal as OpenAI returned it: accepted so answers can be sent back, not rendered. */
  @ApiPropertyOptional({ nullable: true })
  @IsOptional()
  @IsString()
  @Length(0, 100_000)
  refusal?: string | null;

  /** A tool message: the id of the call it answers. */
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(1, 256)
  tool_call_id?: string;
}

export class FunctionDefinitionDto {
  @ApiProperty({ example: 'get_weather', pattern: FUNCTION_NAME.source })
  @IsString()
  @Matches(FUNCTION_NAME, { message: 'function names are 1 to 64 letters, digits, _ or -' })
  name!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 8192)
  description?: string;

  /** The arguments' JSON Schema (an object schema). */
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  parameters?: Record<string, unknown>;

  /** Accepted; arguments are grammar-constrained whenever the function is forced by tool_choice. */
  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  strict?: boolean;
}

export class ToolDto {
  @ApiProperty({ enum: ['function'] })
  @IsIn(['function'], { message: 'tools[].type must be "function"' })
  type!: 'function';

  @ApiProperty({ type: FunctionDefinitionDto })
  @ValidateNested()
  @Type(() => FunctionDefinitionDto)
  function!: FunctionDefinitionDto;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

function isToolChoice(value: unknown): value is ToolChoice {
  if (value === 'none' || value === 'auto' || value === 'required') return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { type?: unknown; function?: { name?: unknown } };
  return (
    v.type === 'function' &&
    Object.keys(v).length === 2 &&
    typeof v.function === 'object' &&
    v.function !== null &&
    typeof v.function.name === 'string' &&
    Object.keys(v.function).length === 1
  );
}

export class JsonSchemaFormatDto {
  @ApiProperty({ example: 'answer' })
  @IsString()
  @Matches(FUNCTION_NAME, { message: 'json_schema.name is 1 to 64 letters, digits, _ or -' })
  name!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 8192)
  description?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  schema?: Record<string, unknown>;

  /** Accepted; the schema is always enforced by the grammar. */
  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean()
  strict?: boolean;
}

export class ResponseFormatDto {
  @ApiProperty({ enum: ['text', 'json_object', 'json_schema'] })
  @IsIn(['text', 'json_object', 'json_schema'])
  type!: 'text' | 'json_object' | 'json_schema';

  @ApiPropertyOptional({ type: JsonSchemaFormatDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => JsonSchemaFormatDto)
  json_schema?: JsonSchemaFormatDto;
}

export class ChatCompletionDto extends SamplingParamsDto {
  @ApiProperty({ type: [ChatMessageDto] })
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must contain at least one message' })
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages!: ChatMessageDto[];

  /** The newer name of max_tokens; wins when both are given. */
  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  max_completion_tokens?: number;

  @ApiPropertyOptional({ type: [ToolDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(128)
  @ValidateNested({ each: true })
  @Type(() => ToolDto)
  tools?: ToolDto[];

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', enum: ['none', 'auto', 'required'] },
      { type: 'object', properties: { type: { enum: ['function'] }, function: { type: 'object' } } },
    ],
  })
  @IsOptional()
  @ValidateBy({
    name: 'isToolChoice',
    validator: {
      validate: isToolChoice,
      defaultMessage: () =>
        'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}',
    },
  })
  tool_choice?: ToolChoice;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  parallel_tool_calls?: boolean;

  @ApiPropertyOptional({ type: ResponseFormatDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResponseFormatDto)
  response_format?: ResponseFormatDto;

  /** Return the chosen tokens' log probabilities. */
  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  logprobs?: boolean;

  /** Alternatives per token (needs logprobs: true). */
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_TOP_LOGPROBS })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_TOP_LOGPROBS)
  top_logprobs?: number;
}

export function messageText(content: string | TextContentPart[] | null | undefined): string | null {
  if (content === null || content === undefined) return null;
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}
