// Liveness and readiness probes used by the dev launcher, systemd tooling and Prometheus blackbox checks.
import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';

import { ReadinessReport, ReadinessService } from './readiness.service';

@Controller('health')
export class HealthController {
  private readonly startedAt = Date.now();

  constructor(private readonly readiness: ReadinessService) {}

  /** The process is up and its event loop answers. */
  @Get('live')
  live(): { status: 'live'; uptime_seconds: number } {
    return { status: 'live', uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000) };
  }

  /** 200 while every dependency answers; 503 naming the failing ones otherwise. */
  @Get('ready')
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
