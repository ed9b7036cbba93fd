// POST /v1/audio/speech (OpenAI-compatible): validates, then streams the audio as it is synthesised — a WAV
// header with open-ended sizes then 16-bit PCM (`wav`), or the bare PCM (`pcm`, 24 kHz for Kokoro). A client that
// goes away cancels the request before its next chunk; a failure after the first byte cuts the connection.
import { Body, Controller, HttpCode, Logger, Post, Req, Res, UseFilters } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { float32ToPcm16Bytes, wavHeader } from '@sovren/audio';
import { ApiError, ApiErrorCode, RawResponse, type RequestWithId } from '@sovren/http';
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';

import { OpenAiExceptionFilter } from '../openai/openai-exception.filter';
import { SpeechError, SpeechErrorCode } from './speech.errors';
import { SPEECH_RESPONSE_FORMATS, SpeechDto, type SpeechResponseFormat } from './speech.dto';
import { SpeechSynthesisService } from './speech-synthesis.service';

const CONTENT_TYPES: Record<SpeechResponseFormat, string> = { wav: 'audio/wav', pcm: 'audio/pcm' };

@ApiTags('openai')
@ApiBearerAuth()
@Controller('v1')
@RawResponse()
@UseFilters(OpenAiExceptionFilter)
export class SpeechController {
  private readonly logger = new Logger(SpeechController.name);

  constructor(private readonly speech: SpeechSynthesisService) {}

  @Post('audio/speech')
  @HttpCode(200)
  @AuthRoute({ routeClass: 'inference', scopes: ['audio:speech'] })
  @ApiOperation({ summary: 'Speak a text (OpenAI-compatible), streamed as WAV or raw PCM' })
  @ApiProduces('audio/wav', 'audio/pcm')
  @ApiOkResponse({ description: 'The audio, streamed clause by clause (16-bit mono at the model rate)' })
  async create(
    @Body() body: SpeechDto,
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
    const format = (body.response_format ?? 'wav') as SpeechResponseFormat;
    if (!SPEECH_RESPONSE_FORMATS.includes(format)) {
      throw new SpeechError(
        SpeechErrorCode.UNSUPPORTED_FORMAT,
        `response_format '${body.response_format}' is not supported; use one of: ${SPEECH_RESPONSE_FORMATS.join(', ')}`,
        'response_format',
      );
    }
    const requestId = req.requestId ?? randomUUID();
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.on('close', onClose);
    let sampleRate = 0;
    let ready: () => void = () => undefined;
    const known = new Promise<void>((resolve) => (ready = resolve));
    const begin = (): void => {
      if (res.headersSent) return;
      res.statusCode = 200;
      res.setHeader('Content-Type', CONTENT_TYPES[format]);
      res.setHeader('X-Sample-Rate', String(sampleRate));
      res.flushHeaders();
      if (format === 'wav') res.write(wavHeader(sampleRate, 1));
    };
    const write = async (bytes: Buffer): Promise<void> => {
      await known; // the sample rate for the headers
      if (res.destroyed) return;
      begin();
      if (!res.write(bytes)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    };
    const started = await this.speech.start(
      {
        endpoint: 'http',
        requestId,
        ownerId,
        ...(auth?.identity.apiKeyId ? { keyId: auth.identity.apiKeyId } : {}),
        model: body.model,
        voice: body.voice,
        input: body.input,
        ...(body.speed !== undefined ? { speed: body.speed } : {}),
      },
      { onAudio: (samples) => write(float32ToPcm16Bytes(samples)) },
      abort.signal,
    );
    // Headers go out with the first audio, so a failure before any (espeak-ng missing, a model fault) is still an
    // OpenAI error answer rather than an empty 200.
    sampleRate = started.sampleRate;
    ready();
    const outcome = await started.done;
    res.off('close', onClose);
    if (outcome.finishReason === 'error') {
      if (!res.headersSent) {
        throw new SpeechError(
          (outcome.error?.code as SpeechErrorCode | undefined) ?? SpeechErrorCode.SYNTHESIS_FAILED,
          outcome.error?.message ?? 'speech synthesis failed',
        );
      }
      this.logger.warn({
        msg: 'speech failed after the response started; closing it',
        request_id: requestId,
        err: outcome.error,
      });
      res.destroy();
      return;
    }
    if (!res.destroyed) begin();
    res.end();
  }
}
