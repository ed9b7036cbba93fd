// GET /api/v1/status: the whole platform as monitoring sees it from heartbeats. Public (a status page needs no
// login), but through the shared guard so anonymous callers are rate limited per IP like everywhere else.
import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthRoute } from '@sovren/auth-guard';

import { PlatformStatusService } from './platform-status.service';
import { PlatformStatus } from './platform-status.tracker';
import { PlatformStatusResponse } from './status.responses';

/** Route class monitoring's routes report to auth.validate (logs and metrics). */
export const MONITORING_ROUTE_CLASS = 'monitoring';

@ApiTags('status')
@Controller('api/v1/status')
export class StatusController {
  constructor(private readonly status: PlatformStatusService) {}

  /** Each service and instance (up / degraded / down, since when, last error) and the overall state. */
  @Get()
  @ApiOperation({ summary: 'Platform status: each service and instance, and the overall state' })
  @ApiOkResponse({ description: 'The status as the heartbeats show it.', type: PlatformStatusResponse })
  @AuthRoute({ routeClass: MONITORING_ROUTE_CLASS, allowAnonymous: true, anonymousWhenAuthUnavailable: true })
  get(): PlatformStatus {
    return this.status.refresh();
  }
}
