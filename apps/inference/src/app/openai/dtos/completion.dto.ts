// Body of POST /v1/completions (OpenAI's legacy text completion; one prompt per request).
import { ValidateBy } from 'class-validator';

import { SamplingParamsDto } from './sampling-params.dto';

export class CompletionDto extends SamplingParamsDto {
  /** A string, or an array holding exactly one string. */
  @ValidateBy({
    name: 'isPrompt',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' || (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string'),
      defaultMessage: () => 'prompt must be a string (or an array of exactly one string)',
    },
  })
  prompt!: string | string[];
}

/** OpenAI's default for /v1/completions when max_tokens is absent. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

export function promptText(prompt: string | string[]): string {
  return typeof prompt === 'string' ? prompt : prompt[0];
}
