// Request and response shapes of /api/v1/voice/calls.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';

const E164 = /^\+[1-9]\d{6,14}$/;

export class PlaceCallDto {
  @ApiProperty({ description: 'Number to call, E.164', example: '+15551230000' })
  @IsString()
  @Matches(E164, { message: 'to must be an E.164 number such as +15551230000' })
  to!: string;

  @ApiProperty({ description: 'One of your numbers, E.164 (the caller ID)', example: '+15559870000' })
  @IsString()
  @Matches(E164, { message: 'from must be an E.164 number such as +15559870000' })
  from!: string;

  @ApiProperty({ description: 'The application that handles the call once answered' })
  @IsString()
  @MaxLength(64)
  application_id!: string;
}

export class TransferCallDto {
  @ApiProperty({ description: 'Number to transfer the caller to, E.164', example: '+15551230000' })
  @IsString()
  @Matches(E164, { message: 'to must be an E.164 number such as +15551230000' })
  to!: string;
}

export class SendDtmfDto {
  @ApiProperty({ description: 'Digits to send as RFC 4733 events', example: '123#' })
  @IsString()
  @Matches(/^[0-9*#A-Da-d]{1,32}$/, { message: 'digits must be 1-32 of 0-9, *, #, A-D' })
  digits!: string;
}

export class CallTimelineEntry {
  @ApiProperty() state!: string;
  @ApiProperty() at!: string;
  @ApiPropertyOptional() detail?: string;
}

export class CallResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: ['inbound', 'outbound'] }) direction!: string;
  @ApiProperty() from!: string;
  @ApiProperty() to!: string;
  @ApiPropertyOptional({ nullable: true }) applicationId!: string | null;
  @ApiProperty({ enum: ['ringing', 'answered', 'ended'] }) state!: string;
  @ApiProperty({ type: [CallTimelineEntry] }) timeline!: CallTimelineEntry[];
  @ApiProperty() sipCallId!: string;
  @ApiPropertyOptional({ nullable: true, enum: ['PCMU', 'PCMA'] }) codec!: string | null;
  @ApiProperty() startedAt!: string;
  @ApiPropertyOptional({ nullable: true }) ringingAt!: string | null;
  @ApiPropertyOptional({ nullable: true }) answeredAt!: string | null;
  @ApiPropertyOptional({ nullable: true }) endedAt!: string | null;
  @ApiPropertyOptional({ nullable: true }) hangupCause!: string | null;
  @ApiPropertyOptional({ nullable: true, enum: ['local', 'remote'] }) hangupSide!: string | null;
  @ApiPropertyOptional({ nullable: true }) sipStatus!: number | null;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true })
  rtpQuality!: Record<string, unknown> | null;
}

export class CallListResponse {
  @ApiProperty({ type: [CallResponse] }) calls!: CallResponse[];
}

export class CallActionResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() accepted!: boolean;
}

export class TranscriptLatency {
  @ApiProperty({ description: 'End of caller speech → end of turn declared (ms)' }) endpointingMs!: number;
  @ApiProperty({ description: 'Speech recognition (ms)' }) asrMs!: number;
  @ApiPropertyOptional({ description: 'LLM request → first token (ms)' }) llmFirstTokenMs?: number;
  @ApiPropertyOptional({ description: 'LLM request → first sentence complete (ms)' }) firstSentenceMs?: number;
  @ApiPropertyOptional({ description: 'Synthesis request → first audio (ms)' }) ttsFirstAudioMs?: number;
  @ApiPropertyOptional({ description: 'First audio → first packet on the wire (ms)' }) queueingMs?: number;
  @ApiPropertyOptional({ description: 'End of caller speech → first agent packet on the wire (ms)' })
  totalMs?: number;
}

export class TranscriptEntryResponse {
  @ApiProperty() seq!: number;
  @ApiProperty({ description: '0: the greeting; then one per caller turn' }) turn!: number;
  @ApiProperty({ enum: ['caller', 'agent'] }) speaker!: string;
  @ApiProperty({ description: 'What was said (the agent: what it generated)' }) text!: string;
  @ApiPropertyOptional({ nullable: true, description: 'Agent utterances: what the caller heard of it' })
  heardText!: string | null;
  @ApiProperty({ description: 'The caller talked over the agent and it stopped' }) interrupted!: boolean;
  @ApiProperty() startedAt!: string;
  @ApiProperty() endedAt!: string;
  @ApiPropertyOptional({ nullable: true, type: TranscriptLatency }) latency!: TranscriptLatency | null;
}

export class CallTranscriptResponse {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: [TranscriptEntryResponse] }) entries!: TranscriptEntryResponse[];
}
