// Form fields of POST /v1/audio/transcriptions (OpenAI-compatible multipart/form-data; the audio is the `file` part).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export const TRANSCRIPTION_RESPONSE_FORMATS = ['json', 'text', 'verbose_json', 'srt', 'vtt'] as const;
export type TranscriptionResponseFormat = (typeof TRANSCRIPTION_RESPONSE_FORMATS)[number];

/** The multipart body for the OpenAPI document: the form fields plus the `file` part (read by multer, not the DTO). */
export const TRANSCRIPTION_FORM_SCHEMA = {
  type: 'object',
  required: ['file', 'model'],
  properties: {
    file: { type: 'string', format: 'binary', description: 'WAV audio (any rate: resampled to 16 kHz), at most 30 s' },
    model: { type: 'string', example: 'base.en' },
    language: { type: 'string', example: 'en' },
    prompt: { type: 'string', description: "Previous text to condition on (Whisper's initial_prompt)" },
    response_format: { type: 'string', enum: [...TRANSCRIPTION_RESPONSE_FORMATS], default: 'json' },
    temperature: { type: 'number', minimum: 0, maximum: 1, default: 0 },
  },
};

export class TranscriptionDto {
  @ApiProperty({
    type: 'string',
    format: 'binary',
    description: 'WAV audio (any rate: resampled to 16 kHz), at most 30 s',
  })
  file?: unknown;

  @ApiProperty({
    description: "A Whisper model of <SOVREN_ROOT>/models/whisper (ggml-<model>.bin), or 'whisper-1' for the first",
    example: 'base.en',
  })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  model!: string;

  @ApiPropertyOptional({ description: 'ISO-639-1 code of the spoken language; absent: detected', example: 'en' })
  @IsOptional()
  @IsString()
  @MaxLength(8)
  language?: string;

  @ApiPropertyOptional({ description: "Previous text to condition on (Whisper's initial_prompt)" })
  @IsOptional()
  @IsString()
  prompt?: string;

  @ApiPropertyOptional({ enum: TRANSCRIPTION_RESPONSE_FORMATS, default: 'json' })
  @IsOptional()
  @IsString()
  response_format?: string;

  @ApiPropertyOptional({ description: '0..1; absent or 0: greedy with temperature fallback', default: 0 })
  @IsOptional()
  @IsString()
  temperature?: string;
}
