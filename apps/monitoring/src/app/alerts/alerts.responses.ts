// OpenAPI shapes of GET /api/v1/alerts; each class implements the type the route returns, so they cannot drift.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ALERT_SEVERITIES, ALERT_STATES, type AlertSeverity, type AlertState, type AlertV1 } from '@sovren/messaging';

import type { AlertEventRow } from './alert-history.repository';

export class FiringAlertResponse implements AlertV1 {
  @ApiProperty({ enum: [1] }) v!: 1;
  @ApiProperty({ example: 'ServiceDown:billing', description: 'Stable identity of the condition' })
  fingerprint!: string;
  @ApiProperty({ example: 'ServiceDown' }) rule!: string;
  @ApiProperty({ enum: ALERT_STATES }) state!: AlertState;
  @ApiProperty({ enum: ALERT_SEVERITIES }) severity!: AlertSeverity;
  @ApiPropertyOptional() service?: string;
  @ApiProperty() summary!: string;
  @ApiProperty({ format: 'date-time' }) startsAt!: string;
  @ApiPropertyOptional({ format: 'date-time' }) endsAt?: string;
}

export class AlertEventResponse implements AlertEventRow {
  @ApiProperty() id!: string;
  @ApiProperty() fingerprint!: string;
  @ApiProperty() rule!: string;
  @ApiProperty() severity!: string;
  @ApiProperty({ type: String, nullable: true }) service!: string | null;
  @ApiProperty() summary!: string;
  @ApiProperty({ format: 'date-time' }) firedAt!: string;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) resolvedAt!: string | null;
}

export class AlertsResponse {
  @ApiProperty({ type: [FiringAlertResponse] }) firing!: FiringAlertResponse[];
  @ApiProperty({ type: [AlertEventResponse], description: 'Newest first' }) history!: AlertEventResponse[];
}
