// The request fields chat and text completions share (OpenAI names and ranges), validated by the global pipe.
import { Type } from 'class-transformer';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
  ValidateBy,
  ValidateNested,
  type ValidationOptions,
} from 'class-validator';
import { INFERENCE_MAX_STOP_STRINGS } from '@sovren/messaging';

/** `stop`: one string or an array of up to 4 non-empty strings. */
function IsStopParameter(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isStopParameter',
      validator: {
        validate: (value: unknown) =>
          (typeof value === 'string' && value.length > 0) ||
          (Array.isArray(value) &&
            value.length <= INFERENCE_MAX_STOP_STRINGS &&
            value.every((item) => typeof item === 'string' && item.length > 0)),
        defaultMessage: () =>
          `stop must be a non-empty string or an array of at most ${INFERENCE_MAX_STOP_STRINGS} non-empty strings`,
      },
    },
    options,
  );
}

/** The most choices one request may ask for. */
export const MAX_CHOICES = 8;
/** The most alternatives per token `top_logprobs` (chat) or `logprobs` (completions) may ask for. */
export const MAX_TOP_LOGPROBS = 20;

export class StreamOptionsDto {
  @ApiPropertyOptional({ description: 'Send a last chunk with the usage' })
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;
}

export class SamplingParamsDto {
  @ApiProperty({ minLength: 1, maxLength: 256, description: 'A model id from /v1/models' })
  @IsString()
  @Length(1, 256)
  model!: string;

  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  max_tokens?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(2)
  temperature?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  top_p?: number;

  @ApiPropertyOptional({ minimum: 0, description: 'Not in OpenAI: keep the k most likely tokens (0: off)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  top_k?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, description: 'Not in OpenAI: min-p sampling' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  min_p?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  frequency_penalty?: number;

  @ApiPropertyOptional({ minimum: -2, maximum: 2 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  presence_penalty?: number;

  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', minLength: 1 },
      { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: INFERENCE_MAX_STOP_STRINGS },
    ],
  })
  @IsOptional()
  @IsStopParameter()
  stop?: string | string[];

  @ApiPropertyOptional({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seed?: number;

  @ApiPropertyOptional({ default: false, description: 'Answer server-sent events' })
  @IsOptional()
  @IsBoolean()
  stream?: boolean;

  @ApiPropertyOptional({ type: StreamOptionsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto;

  /** End-user id for abuse tracking; logged, never interpreted. */
  @ApiPropertyOptional({ maxLength: 256, description: 'End-user id for abuse tracking; logged, never interpreted' })
  @IsOptional()
  @IsString()
  @Length(0, 256)
  user?: string;

  /** Choices to generate from one prompt (each with its own seed). */
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CHOICES, default: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_CHOICES, { message: `n must be at most ${MAX_CHOICES}` })
  n?: number;

  /** Token id (as a string) → bias added to its logit, -100 (ban) … 100 (force). */
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'number', minimum: -100, maximum: 100 },
    example: { '50256': -100 },
  })
  @IsOptional()
  @IsLogitBias()
  logit_bias?: Record<string, number>;
}

/** `logit_bias`: an object of token ids (decimal strings) to numbers in -100…100, at most 1024 entries. */
function IsLogitBias(): PropertyDecorator {
  return ValidateBy({
    name: 'isLogitBias',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length <= 1024 &&
        Object.entries(value).every(
          ([k, v]) => /^(0|[1-9][0-9]{0,9})$/.test(k) && typeof v === 'number' && v >= -100 && v <= 100,
        ),
      defaultMessage: () =>
        'logit_bias must map token ids (integers as strings) to numbers from -100 to 100 (at most 1024 entries)',
    },
  });
}

/** logit_bias with numeric token ids. */
export function logitBiasOf(bias: Record<string, number> | undefined): Record<number, number> | undefined {
  if (bias === undefined || Object.keys(bias).length === 0) return undefined;
  const out: Record<number, number> = {};
  for (const [k, v] of Object.entries(bias)) out[Number(k)] = v;
  return out;
}

export function stopList(stop: string | string[] | undefined): string[] {
  if (stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : stop;
}
