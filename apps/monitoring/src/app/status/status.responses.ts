// OpenAPI shapes of GET /api/v1/status; each class implements the type the route returns, so they cannot drift.
import { ApiProperty } from '@nestjs/swagger';

import type { ComponentState, InstanceStatus, PlatformStatus, ServiceStatus } from './platform-status.tracker';

const STATES: ComponentState[] = ['up', 'degraded', 'down'];

export class InstanceStatusResponse implements InstanceStatus {
  @ApiProperty({ description: 'host:pid of the instance' }) instance!: string;
  @ApiProperty({ enum: STATES }) state!: ComponentState;
  @ApiProperty({ format: 'date-time', description: 'Since when it is in this state' }) since!: string;
  @ApiProperty() version!: string;
  @ApiProperty() uptimeSeconds!: number;
  @ApiProperty({ format: 'date-time' }) lastHeartbeatAt!: string;
  @ApiProperty({ type: [String], description: 'Dependencies it reports failing' }) failing!: string[];
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
}

export class ServiceStatusResponse implements ServiceStatus {
  @ApiProperty({ example: 'inference' }) service!: string;
  @ApiProperty({ enum: STATES }) state!: ComponentState;
  @ApiProperty({ format: 'date-time' }) since!: string;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ description: 'False until the first heartbeat of this service reached monitoring' }) seen!: boolean;
  @ApiProperty({ type: [InstanceStatusResponse] }) instances!: InstanceStatusResponse[];
}

export class PlatformStatusResponse implements PlatformStatus {
  @ApiProperty({ enum: STATES, description: 'The worst state of any service' }) state!: ComponentState;
  @ApiProperty({ format: 'date-time' }) checkedAt!: string;
  @ApiProperty({ type: [ServiceStatusResponse] }) services!: ServiceStatusResponse[];
}
