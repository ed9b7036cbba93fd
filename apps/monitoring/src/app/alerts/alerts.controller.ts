// GET /api/v1/alerts: the alerts firing now and the recent alert history — operators only (admin role): alert
// summaries name services, hosts and failing dependencies.
import { Controller, DefaultValuePipe, Get, HttpStatus, ParseIntPipe, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AuthRoute } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { AlertV1 } from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';

import { MONITORING_ROUTE_CLASS } from '../status/status.controller';
import { AlertEvaluatorService } from './alert-evaluator.service';
import { AlertEventRow, AlertHistoryRepository } from './alert-history.repository';
import { AlertsResponse } from './alerts.responses';

export const MAX_HISTORY_LIMIT = 500;

@ApiTags('alerts')
@Controller('api/v1/alerts')
@AuthRoute({ routeClass: MONITORING_ROUTE_CLASS, roles: ['admin'], scopes: ['monitoring:read'] })
export class AlertsController {
  constructor(
    private readonly evaluator: AlertEvaluatorService,
    private readonly history: AlertHistoryRepository,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The alerts firing now and the recent alert history' })
  @ApiQuery({
    name: 'limit',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: MAX_HISTORY_LIMIT, default: 50 },
  })
  @ApiOkResponse({ description: 'Firing alerts and the newest history entries.', type: AlertsResponse })
  async list(
    @Query('limit', new DefaultValuePipe(50), new ParseIntPipe({ errorHttpStatusCode: HttpStatus.BAD_REQUEST }))
    limit: number,
  ): Promise<{ firing: AlertV1[]; history: AlertEventRow[] }> {
    if (limit < 1 || limit > MAX_HISTORY_LIMIT) {
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        ApiErrorCode.VALIDATION_FAILED,
        `limit must be an integer 1-${MAX_HISTORY_LIMIT}`,
      );
    }
    let history: AlertEventRow[];
    try {
      history = await this.history.recent(limit);
    } catch (error) {
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'alert history is not available; try again shortly',
        {
          dependency: 'postgres',
          reason: errorMessage(error),
        },
      );
    }
    return { firing: this.evaluator.firing(), history };
  }
}
