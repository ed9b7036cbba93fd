// The request fields chat and text completions share (OpenAI names and ranges), validated by the global pipe.
import { Type } from 'class-transformer';
import {
  Equals,
  IsBoolean,
  IsIn,
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

export class StreamOptionsDto {
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;
}

export class SamplingParamsDto {
  @IsString()
  @Length(1, 256)
  model!: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  max_tokens?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(2)
  temperature?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  top_p?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  top_k?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  min_p?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  frequency_penalty?: number;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(-2)
  @Max(2)
  presence_penalty?: number;

  @IsOptional()
  @IsStopParameter()
  stop?: string | string[];

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seed?: number;

  @IsOptional()
  @IsBoolean()
  stream?: boolean;

  @IsOptional()
  @ValidateNested()
  @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto;

  /** End-user id for abuse tracking; logged, never interpreted. */
  @IsOptional()
  @IsString()
  @Length(0, 256)
  user?: string;

  /** Only one choice per request is supported. */
  @IsOptional()
  @IsIn([1], { message: 'n must be 1 (one choice per request)' })
  n?: number;

  /** Log probabilities are not returned. */
  @IsOptional()
  @Equals(false, { message: 'logprobs is not supported' })
  logprobs?: boolean;
}

export function stopList(stop: string | string[] | undefined): string[] {
  if (stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : stop;
}
