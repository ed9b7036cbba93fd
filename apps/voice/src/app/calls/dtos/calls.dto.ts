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
