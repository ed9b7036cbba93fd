// POST /v1/audio/transcriptions (OpenAI-compatible): multipart/form-data with the audio as a WAV `file` (any sample
// rate and channel count: mixed down and resampled to 16 kHz mono, at most 30 s), `model`, `language`, `prompt`,
// `response_format` (json | text | verbose_json | srt | vtt) and `temperature`. Bad audio is a 400 in OpenAI's
// error shape; a client that goes away cancels the transcription.
import { Controller, HttpCode, Post, Req, Res, UploadedFile, UseFilters, UseInterceptors } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { downmixToMono, readWav, resample, WavError } from '@sovren/audio';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { WHISPER_SAMPLE_RATE } from '@sovren/engine';
import { ApiError, ApiErrorCode, RawResponse, type RequestWithId } from '@sovren/http';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import { OpenAiExceptionFilter } from '../openai/openai-exception.filter';
import {
  TranscriptionDto,
  TRANSCRIPTION_FORM_SCHEMA,
  TRANSCRIPTION_RESPONSE_FORMATS,
  type TranscriptionResponseFormat,
} from './transcription.dto';
import { TranscriptionError, TranscriptionErrorCode } from './transcription.errors';
import { TranscriptionJsonResponse, toSrt, toVerboseJson, toVtt } from './transcription.responses';
import { TranscriptionService } from './transcription.service';

/** OpenAI's upload limit. */
const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
const MAX_SECONDS = 30;

interface UploadedAudio {
  buffer: Buffer;
  size: number;
}

@ApiTags('openai')
@ApiBearerAuth()
@Controller('v1')
@RawResponse()
@UseFilters(OpenAiExceptionFilter)
export class TranscriptionController {
  constructor(private readonly transcription: TranscriptionService) {}

  @Post('audio/transcriptions')
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', scopes: ['audio:transcribe'] })
  @UseInterceptors(FileInterceptor('file', { limits: { fileSize: MAX_UPLOAD_BYTES, files: 1 } }))
  @ApiOperation({ summary: 'Transcribe a WAV file with Whisper (OpenAI-compatible)' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ schema: TRANSCRIPTION_FORM_SCHEMA })
  @ApiProduces('application/json', 'text/plain', 'text/vtt')
  @ApiOkResponse({ type: TranscriptionJsonResponse, description: 'The transcript in the requested response_format' })
  async create(
    @UploadedFile() file: UploadedAudio | undefined,
    @CurrentAuth() auth: RequestAuth | undefined,
    @Req() req: RequestWithId,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const ownerId = auth?.identity.userId;
    if (!ownerId) {
      throw new ApiError(
        401,
        ApiErrorCode.UNAUTHORIZED,
        'authentication required: send an API key as Authorization: Bearer',
      );
    }
    const body = readFields((req as RequestWithId & { body?: unknown }).body);
    const format = (body.response_format ?? 'json') as TranscriptionResponseFormat;
    if (!TRANSCRIPTION_RESPONSE_FORMATS.includes(format)) {
      throw new TranscriptionError(
        TranscriptionErrorCode.UNSUPPORTED_FORMAT,
        `response_format '${body.response_format}' is not supported; use one of: ${TRANSCRIPTION_RESPONSE_FORMATS.join(', ')}`,
        'response_format',
      );
    }
    let temperature: number | undefined;
    if (body.temperature !== undefined && body.temperature !== '') {
      temperature = Number(body.temperature);
      if (!Number.isFinite(temperature)) {
        throw new TranscriptionError(
          TranscriptionErrorCode.INVALID_REQUEST,
          'temperature must be a number',
          'temperature',
        );
      }
      if (temperature === 0) temperature = undefined; // OpenAI: 0 means "automatic" (the fallback ladder)
    }
    if (!file || file.size === 0) {
      throw new TranscriptionError(
        TranscriptionErrorCode.INVALID_AUDIO,
        'a non-empty WAV file part is required',
        'file',
      );
    }
    const pcm = await toWhisperPcm(file.buffer);
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on('close', onClose);
    const result = await this.transcription.transcribe(
      {
        endpoint: 'http',
        requestId: req.requestId ?? randomUUID(),
        ownerId,
        ...(auth?.identity.apiKeyId ? { keyId: auth.identity.apiKeyId } : {}),
        model: body.model,
        pcm,
        ...(body.language ? { language: body.language } : {}),
        ...(body.prompt ? { prompt: body.prompt } : {}),
        timestamps: format === 'verbose_json' || format === 'srt' || format === 'vtt',
        ...(temperature !== undefined ? { temperature } : {}),
      },
      abort.signal,
    );
    res.off('close', onClose);
    if (res.destroyed) return;
    const send = (type: string, payload: string): void => {
      res.statusCode = 200;
      res.setHeader('Content-Type', type);
      res.end(payload);
    };
    switch (format) {
      case 'text':
        return send('text/plain; charset=utf-8', `${result.text}\n`);
      case 'srt':
        return send('text/plain; charset=utf-8', toSrt(result));
      case 'vtt':
        return send('text/vtt; charset=utf-8', toVtt(result));
      case 'verbose_json':
        return send('application/json', JSON.stringify(toVerboseJson(result)));
      default:
        return send('application/json', JSON.stringify({ text: result.text }));
    }
  }
}

/** The text fields of the form (multer leaves them in req.body as strings), checked by hand: the file part is not. */
function readFields(raw: unknown): TranscriptionDto {
  const fields = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const text = (name: keyof TranscriptionDto, max: number): string | undefined => {
    const value = fields[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length > max) {
      throw new TranscriptionError(
        TranscriptionErrorCode.INVALID_REQUEST,
        `${name} must be a string of at most ${max} characters`,
        name,
      );
    }
    return value;
  };
  const model = text('model', 128);
  if (!model) throw new TranscriptionError(TranscriptionErrorCode.INVALID_REQUEST, 'model is required', 'model');
  const out: TranscriptionDto = { model };
  const language = text('language', 8);
  if (language) out.language = language;
  const prompt = text('prompt', 4096);
  if (prompt !== undefined) out.prompt = prompt;
  const format = text('response_format', 32);
  if (format !== undefined) out.response_format = format;
  const temperature = text('temperature', 32);
  if (temperature !== undefined) out.temperature = temperature;
  return out;
}

/** WAV bytes to 16 kHz mono float samples; anything that is not a usable WAV of 30 s or less is a 400. */
export async function toWhisperPcm(bytes: Uint8Array): Promise<Float32Array> {
  let wav;
  try {
    wav = readWav(bytes);
  } catch (error) {
    if (error instanceof WavError) {
      throw new TranscriptionError(
        TranscriptionErrorCode.INVALID_AUDIO,
        `the file is not a usable WAV: ${error.message}`,
        'file',
      );
    }
    throw error;
  }
  if (wav.frames === 0)
    throw new TranscriptionError(TranscriptionErrorCode.INVALID_AUDIO, 'the audio is empty', 'file');
  const seconds = wav.frames / wav.sampleRate;
  if (seconds > MAX_SECONDS) {
    throw new TranscriptionError(
      TranscriptionErrorCode.AUDIO_TOO_LONG,
      `the audio is ${seconds.toFixed(2)} s long; the maximum is ${MAX_SECONDS} s`,
      'file',
    );
  }
  const mono = wav.channels > 1 ? downmixToMono(wav.samples, wav.channels) : wav.samples;
  if (wav.sampleRate === WHISPER_SAMPLE_RATE) return mono;
  const out = await resample(mono, wav.sampleRate, WHISPER_SAMPLE_RATE);
  return out.length > MAX_SECONDS * WHISPER_SAMPLE_RATE ? out.subarray(0, MAX_SECONDS * WHISPER_SAMPLE_RATE) : out;
}
