// GET /api/v1/status: the whole platform as monitoring sees it from heartbeats.
import { Controller, Get } from '@nestjs/common';

import { PlatformStatusService } from './platform-status.service';
import { PlatformStatus } from './platform-status.tracker';

@Controller('api/v1/status')
export class StatusController {
  constructor(private readonly status: PlatformStatusService) {}

  /** Each service and instance (up / degraded / down, since when, last error) and the overall state. */
  @Get()
  get(): PlatformStatus {
    return this.status.refresh();
  }
}
