// GET /metrics: the Prometheus text exposition for this process, sent raw (no envelope).
import { Controller, Get, Res } from '@nestjs/common';
import { ServerResponse } from 'node:http';

import { MetricsService } from './metrics.service';
import { RawResponse } from './raw-response.decorator';

@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @RawResponse()
  async scrape(@Res({ passthrough: true }) res: ServerResponse): Promise<string> {
    res.setHeader('Content-Type', this.metrics.contentType);
    return this.metrics.metrics();
  }
}
