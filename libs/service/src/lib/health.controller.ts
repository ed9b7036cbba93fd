// Liveness and readiness probes used by the dev launcher, systemd tooling and Prometheus blackbox checks.
import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { ApiError, ApiErrorCode } from '@sovren/http';

import { ReadinessReport, ReadinessService } from './readiness.service';

const CHECKS_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    required: ['name', 'ok'],
    properties: { name: { type: 'string' }, ok: { type: 'boolean' }, error: { type: 'string' } },
  },
};

@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly startedAt = Date.now();

  constructor(private readonly readiness: ReadinessService) {}

  /** The process is up and its event loop answers. */
  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is up and its event loop answers' })
  @ApiOkResponse({
    description: 'Alive.',
    schema: {
      type: 'object',
      required: ['status', 'uptime_seconds'],
      properties: { status: { type: 'string', enum: ['live'] }, uptime_seconds: { type: 'integer' } },
    },
  })
  live(): { status: 'live'; uptime_seconds: number } {
    return { status: 'live', uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000) };
  }

  /** 200 while every dependency answers; 503 naming the failing ones otherwise. */
  @Get('ready')
  @ApiOperation({ summary: 'Readiness: NATS, every database of the service and its own checks answer' })
  @ApiOkResponse({
    description: 'Ready to take traffic.',
    schema: {
      type: 'object',
      required: ['status', 'checks'],
      properties: { status: { type: 'string', enum: ['ready'] }, checks: CHECKS_SCHEMA },
    },
  })
  @ApiServiceUnavailableResponse({
    description: 'Not ready: SERVICE_UNAVAILABLE, `details.failing` names the failing dependencies.',
    schema: { $ref: '#/components/schemas/ApiErrorEnvelope' },
  })
  async ready(): Promise<{ status: 'ready'; checks: ReadinessReport['checks'] }> {
    const report = await this.readiness.check();
    if (!report.ready) {
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        `not ready: ${report.failing.join(', ')} unreachable`,
        { failing: report.failing, checks: report.checks },
      );
    }
    return { status: 'ready', checks: report.checks };
  }
}
