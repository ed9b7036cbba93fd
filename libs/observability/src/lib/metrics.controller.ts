// GET /metrics: the Prometheus text exposition for this process, sent raw (no envelope).
import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { ServerResponse } from 'node:http';

import { MetricsService } from './metrics.service';
import { RawResponse } from './raw-response.decorator';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @RawResponse()
  @ApiOperation({ summary: 'Prometheus metrics of this process (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } })
  async scrape(@Res({ passthrough: true }) res: ServerResponse): Promise<string> {
    res.setHeader('Content-Type', this.metrics.contentType);
    return this.metrics.metrics();
  }
}
