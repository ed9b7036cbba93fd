// /api/v1/voice/calls: place a call, list and read call records, hang up, send DTMF, transfer, fetch the recording
// and the transcript. Thin: validate, delegate.
import {
  Body,
  Controller,
  DefaultValuePipe,
  Get,
  HttpCode,
  HttpStatus,
  Logger,
  Param,
  ParseIntPipe,
  ParseUUIDPipe,
  Post,
  Query,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { errorMessage } from '@sovren/resilience';

import { CallTranscriptsRepository } from '../agent/call-transcripts.repository';
import { RecordingStore } from '../media/recording-store';
import { CallRecordsRepository, type CallRecord } from './call-records.repository';
import { CallsService } from './calls.service';
import {
  CallActionResponse,
  CallListResponse,
  CallResponse,
  CallTranscriptResponse,
  PlaceCallDto,
  SendDtmfDto,
  TransferCallDto,
} from './dtos/calls.dto';

export const VOICE_ROUTE_CLASS = 'voice';

function ownerOf(auth: RequestAuth | undefined): string {
  const userId = auth?.identity.userId;
  if (!userId) throw new ApiError(HttpStatus.UNAUTHORIZED, ApiErrorCode.UNAUTHORIZED, 'sign in to use calls');
  return userId;
}

@ApiTags('calls')
@ApiBearerAuth()
@Controller('api/v1/voice/calls')
@AuthRoute({ routeClass: VOICE_ROUTE_CLASS, scopes: ['voice:calls'] })
export class CallsController {
  private readonly logger = new Logger(CallsController.name);

  constructor(
    private readonly calls: CallsService,
    private readonly records: CallRecordsRepository,
    private readonly recordings: RecordingStore,
    private readonly transcripts: CallTranscriptsRepository,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Place an outbound call from one of your numbers; the application handles it' })
  @ApiCreatedResponse({ description: 'The call record (state ringing).', type: CallResponse })
  @ApiServiceUnavailableResponse({ description: 'Too many calls in progress, or outbound calling not configured.' })
  place(@Body() body: PlaceCallDto, @CurrentAuth() auth: RequestAuth | undefined) {
    return this.calls.placeCall({ to: body.to, from: body.from, applicationId: body.application_id }, ownerOf(auth));
  }

  @Get()
  @ApiOperation({ summary: 'Your calls, newest first' })
  @ApiQuery({ name: 'limit', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } })
  @ApiQuery({ name: 'before', required: false, description: 'ISO time: calls started before it (paging)' })
  @ApiOkResponse({ description: 'Your calls, newest first (at most `limit`).', type: CallListResponse })
  async list(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Query('limit', new DefaultValuePipe(50), new ParseIntPipe({ errorHttpStatusCode: HttpStatus.BAD_REQUEST }))
    limit: number,
    @Query('before') before?: string,
  ) {
    if (limit < 1 || limit > 200) {
      throw new ApiError(HttpStatus.BAD_REQUEST, ApiErrorCode.VALIDATION_FAILED, 'limit must be an integer 1-200');
    }
    if (before !== undefined && Number.isNaN(Date.parse(before))) {
      throw new ApiError(HttpStatus.BAD_REQUEST, ApiErrorCode.VALIDATION_FAILED, 'before must be an ISO time');
    }
    return { calls: await this.records.list(ownerOf(auth), limit, before ?? null) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One call record' })
  @ApiOkResponse({
    description: 'The call record: state timeline, codec, hangup cause, RTP quality.',
    type: CallResponse,
  })
  @ApiNotFoundResponse({ description: 'No such call of yours.' })
  async get(@Param('id', new ParseUUIDPipe()) id: string, @CurrentAuth() auth: RequestAuth | undefined) {
    return this.ownedRecord(id, auth);
  }

  @Get(':id/transcript')
  @ApiOperation({ summary: 'The transcript of an agent call: both sides, in order, with times' })
  @ApiOkResponse({
    description: 'Caller and agent utterances; an interrupted agent utterance says what the caller heard of it.',
    type: CallTranscriptResponse,
  })
  @ApiNotFoundResponse({ description: 'No such call of yours.' })
  async transcript(@Param('id', new ParseUUIDPipe()) id: string, @CurrentAuth() auth: RequestAuth | undefined) {
    await this.ownedRecord(id, auth);
    return { id, entries: await this.transcripts.list(id) };
  }

  @Get(':id/recording')
  @ApiOperation({ summary: 'The call recording: a stereo WAV, caller left, agent right' })
  @ApiProduces('audio/wav')
  @ApiOkResponse({
    description: 'The WAV file (8 kHz, 16-bit, 2 channels).',
    content: { 'audio/wav': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiNotFoundResponse({ description: 'No recording of yours for this call (none made, or past retention).' })
  async recording(
    @Param('id', new ParseUUIDPipe()) id: string,
    @CurrentAuth() auth: RequestAuth | undefined,
  ): Promise<StreamableFile> {
    const opened = await this.recordings.open(id, ownerOf(auth));
    if (!opened) throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, 'no recording of this call');
    return new StreamableFile(opened.stream, {
      type: 'audio/wav',
      length: opened.bytes,
      disposition: `attachment; filename="${id}.wav"`,
    });
  }

  @Post(':id/hangup')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Hang up a call in progress (BYE, or CANCEL before answer)' })
  @ApiAcceptedResponse({
    description: 'The hang-up is under way; the record closes when it completes.',
    type: CallActionResponse,
  })
  @ApiNotFoundResponse({ description: 'No such call in progress.' })
  async hangup(@Param('id', new ParseUUIDPipe()) id: string, @CurrentAuth() auth: RequestAuth | undefined) {
    this.requireLive(id, ownerOf(auth));
    return { id, accepted: this.calls.hangup(id) };
  }

  @Post(':id/dtmf')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Send DTMF digits into an answered call (RFC 4733)' })
  @ApiAcceptedResponse({ description: 'The digits are being sent as RFC 4733 events.', type: CallActionResponse })
  @ApiNotFoundResponse({ description: 'No such call in progress.' })
  @ApiConflictResponse({ description: 'The call is not answered yet.' })
  async dtmf(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: SendDtmfDto,
    @CurrentAuth() auth: RequestAuth | undefined,
  ) {
    this.requireLive(id, ownerOf(auth));
    const sent = await this.calls.sendDtmf(id, body.digits.toUpperCase());
    if (!sent) throw new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, 'the call is not answered');
    return { id, accepted: true };
  }

  /** The call record, if it is the caller's; else 404 (another owner's call is no more visible than none). */
  private async ownedRecord(id: string, auth: RequestAuth | undefined): Promise<CallRecord> {
    const record = await this.records.get(id);
    if (!record || record.ownerId !== ownerOf(auth)) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, 'no such call');
    }
    return record;
  }

  @Post(':id/transfer')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Transfer an answered call to another number (SIP REFER: the carrier places the call)' })
  @ApiAcceptedResponse({
    description: 'The transfer is under way; on success the call ends with cause `transferred`.',
    type: CallActionResponse,
  })
  @ApiNotFoundResponse({ description: 'No such call in progress.' })
  @ApiConflictResponse({ description: 'The call is not answered yet.' })
  async transfer(
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: TransferCallDto,
    @CurrentAuth() auth: RequestAuth | undefined,
  ) {
    this.requireLive(id, ownerOf(auth));
    const call = this.calls.find(id);
    if (call?.state !== 'answered')
      throw new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, 'the call is not answered');
    void this.calls.transfer(id, body.to).catch((error: unknown) => {
      this.logger.error({ msg: 'transfer failed', callId: id, err: errorMessage(error) });
    });
    return { id, accepted: true };
  }

  private requireLive(id: string, ownerId: string): void {
    const call = this.calls.find(id);
    if (!call || call.application?.ownerId !== ownerId) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, 'no such call in progress');
    }
  }
}
