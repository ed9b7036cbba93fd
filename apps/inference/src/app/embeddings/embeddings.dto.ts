// Body of POST /v1/embeddings (OpenAI's shape): one input or a batch, as text or token ids.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Length, Min, ValidateBy } from 'class-validator';

/** Inputs one request may carry (OpenAI's limit). */
export const MAX_EMBEDDING_INPUTS = 2048;

export type EmbeddingInput = string | string[] | number[] | number[][];

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((t) => Number.isInteger(t) && t >= 0);
}

function isEmbeddingInput(value: unknown): value is EmbeddingInput {
  if (typeof value === 'string') return value.length > 0;
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_EMBEDDING_INPUTS) return false;
  if (value.every((v) => typeof v === 'string' && v.length > 0)) return true;
  if (isTokenArray(value)) return true;
  return value.every(isTokenArray);
}

export class EmbeddingsDto {
  @ApiProperty({ example: 'nomic-embed-text-v1.5' })
  @IsString()
  @Length(1, 256)
  model!: string;

  /** A string, an array of strings, an array of token ids, or an array of token-id arrays (none empty). */
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      { type: 'array', items: { type: 'string' } },
      { type: 'array', items: { type: 'integer' } },
      { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
    ],
    example: ['The quick brown fox', 'jumps over the lazy dog'],
  })
  @ValidateBy({
    name: 'isEmbeddingInput',
    validator: {
      validate: isEmbeddingInput,
      defaultMessage: () =>
        `input must be a non-empty string, or an array (at most ${MAX_EMBEDDING_INPUTS}) of non-empty strings, ` +
        'of token ids, or of non-empty token-id arrays',
    },
  })
  input!: EmbeddingInput;

  @ApiPropertyOptional({ enum: ['float', 'base64'], default: 'float' })
  @IsOptional()
  @IsIn(['float', 'base64'])
  encoding_format?: 'float' | 'base64';

  /** Truncate the vectors to this size (models trained for it only, e.g. nomic-bert); re-normalised. */
  @ApiPropertyOptional({ minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  dimensions?: number;

  /** End-user id for abuse tracking; logged, never interpreted. */
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Length(0, 256)
  user?: string;
}

/** The inputs as a list: texts, or token-id arrays. */
export function embeddingInputs(input: EmbeddingInput): Array<string | number[]> {
  if (typeof input === 'string') return [input];
  if (isTokenArray(input)) return [input];
  return input as Array<string | number[]>;
}
