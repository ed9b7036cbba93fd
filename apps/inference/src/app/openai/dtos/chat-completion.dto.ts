// Body of POST /v1/chat/completions (OpenAI's shape; the fields this service supports).
import { Type } from 'class-transformer';
import {
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Min,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { INFERENCE_CHAT_ROLES, type InferenceChatRole } from '@sovren/messaging';

import { SamplingParamsDto } from './sampling-params.dto';

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

export class ChatMessageDto {
  @IsIn(INFERENCE_CHAT_ROLES)
  role!: InferenceChatRole;

  /** A string, or an array of `{ type: 'text', text }` parts (other part types need a multimodal model). */
  @ValidateBy({
    name: 'isMessageContent',
    validator: {
      validate: (value: unknown) => typeof value === 'string' || (Array.isArray(value) && value.every(isTextPart)),
      defaultMessage: () => "content must be a string or an array of { type: 'text', text } parts",
    },
  })
  content!: string | TextContentPart[];

  @IsOptional()
  @IsString()
  @Length(0, 256)
  name?: string;
}

export class ChatCompletionDto extends SamplingParamsDto {
  @IsArray()
  @ArrayMinSize(1, { message: 'messages must contain at least one message' })
  @ValidateNested({ each: true })
  @Type(() => ChatMessageDto)
  messages!: ChatMessageDto[];

  /** The newer name of max_tokens; wins when both are given. */
  @IsOptional()
  @IsInt()
  @Min(1)
  max_completion_tokens?: number;
}

export function messageText(content: string | TextContentPart[]): string {
  return typeof content === 'string' ? content : content.map((part) => part.text).join('');
}
