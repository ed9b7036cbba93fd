// Body of POST /v1/completions (OpenAI's legacy text completion; one prompt per request).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min, ValidateBy } from 'class-validator';

import { MAX_TOP_LOGPROBS, SamplingParamsDto } from './sampling-params.dto';

export class CompletionDto extends SamplingParamsDto {
  /** A string, or an array holding exactly one string. */
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 1 }],
    example: 'Once upon a time',
  })
  @ValidateBy({
    name: 'isPrompt',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' || (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string'),
      defaultMessage: () => 'prompt must be a string (or an array of exactly one string)',
    },
  })
  prompt!: string | string[];

  /** Return each token's log probability and this many alternatives (0: only the chosen token's). */
  @ApiPropertyOptional({ minimum: 0, maximum: MAX_TOP_LOGPROBS })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_TOP_LOGPROBS)
  logprobs?: number;
}

/** OpenAI's default for /v1/completions when max_tokens is absent. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

export function promptText(prompt: string | string[]): string {
  return typeof prompt === 'string' ? prompt : prompt[0];
}
