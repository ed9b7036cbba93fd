// Body of POST /v1/audio/speech (OpenAI-compatible).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsNumber, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export const SPEECH_RESPONSE_FORMATS = ['wav', 'pcm'] as const;
export type SpeechResponseFormat = (typeof SPEECH_RESPONSE_FORMATS)[number];

export class SpeechDto {
  @ApiProperty({ description: 'A speech model folder under <SOVREN_ROOT>/models/tts', example: 'kokoro-82m' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  model!: string;

  @ApiProperty({
    description: 'The text to speak (at most 4 096 characters)',
    example: 'Your table is booked for 8 pm.',
  })
  @IsString()
  input!: string;

  @ApiProperty({ description: 'A voice pack of the model (voices/<voice>.bin|npy)', example: 'af_heart' })
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  voice!: string;

  @ApiPropertyOptional({
    enum: ['wav', 'pcm', 'mp3', 'opus', 'aac', 'flac'],
    default: 'wav',
    description:
      'wav (16-bit mono, streamed: sizes 0xFFFFFFFF) or pcm (raw 16-bit LE mono at the model rate); others: 400',
  })
  @IsOptional()
  @IsString()
  response_format?: string;

  @ApiPropertyOptional({ minimum: 0.25, maximum: 4, default: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  speed?: number;

  @ApiPropertyOptional({ enum: ['audio'], default: 'audio', description: 'Only the raw audio stream is offered' })
  @IsOptional()
  @IsIn(['audio'])
  stream_format?: 'audio';
}
