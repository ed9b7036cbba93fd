import 'reflect-metadata';
import { Controller, Get, INestApplication, Module, Param } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigModule } from '@sovren/config';
import { testPlatformConfig } from '@sovren/config/testing';
import request from 'supertest';

import { JsonLogger } from '../json.logger';
import { MetricsService } from '../metrics.service';
import { ObservabilityModule } from '../observability.module';

@Controller('things')
class ThingsController {
  @Get(':id')
  find(@Param('id') id: string): { id: string } {
    if (id === 'broken') throw new Error('database on fire');
    return { id };
  }
}

@Module({
  imports: [
    ConfigModule.forRoot(testPlatformConfig({ SOVREN_LOG_LEVEL: 'error' })),
    ObservabilityModule.forRoot('monitoring'),
  ],
  controllers: [ThingsController],
})
class AppModule {}

// A Prometheus text line: a comment, or `name{labels} value [timestamp]` (values parse like Go's ParseFloat,
// so NaN and Inf are case-insensitive).
const EXPOSITION_LINE = /^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.]+(e[+-]?\d+)?|[+-]?inf|nan)( -?\d+)?)$/i;

describe('ObservabilityModule', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
  });

  it('provides a JSON logger at the configured level and the metrics service', () => {
    expect(app.get(JsonLogger).isLevelEnabled('warn')).toBe(false);
    expect(app.get(JsonLogger).isLevelEnabled('error')).toBe(true);
    expect(app.get(MetricsService).service).toBe('monitoring');
  });

  it('serves valid Prometheus text on GET /metrics', async () => {
    const response = await request(app.getHttpServer()).get('/metrics').expect(200);

    expect(response.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    const lines = response.text.split('\n').filter((line) => line !== '');
    expect(lines.filter((line) => !EXPOSITION_LINE.test(line))).toEqual([]);
    expect(response.text).toContain('service="monitoring"');
  });

  it('records request durations by route pattern and status, including errors and unknown routes', async () => {
    const server = app.getHttpServer();
    await request(server).get('/things/1').expect(200);
    await request(server).get('/things/2').expect(200);
    await request(server).get('/things/broken').expect(500);
    await request(server).get('/no/such/route').expect(404);

    const text = (await request(server).get('/metrics').expect(200)).text;

    expect(text).toContain(
      'sovren_http_request_duration_seconds_count{service="monitoring",method="GET",route="/things/:id",status="200"} 2',
    );
    expect(text).toContain(
      'sovren_http_request_duration_seconds_count{service="monitoring",method="GET",route="/things/:id",status="500"} 1',
    );
    expect(text).toContain(
      'sovren_http_request_duration_seconds_count{service="monitoring",method="GET",route="unmatched",status="404"} 1',
    );
    expect(text).not.toContain('/things/1');
  });
});
