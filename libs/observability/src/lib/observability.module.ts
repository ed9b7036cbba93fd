// The global module every service imports once: its JSON logger, its metrics registry, the HTTP duration
// middleware on every route, and GET /metrics. Needs ConfigModule (for the log level).
import { DynamicModule, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { PlatformConfig, ServiceName } from '@sovren/config';

import { HttpMetricsMiddleware } from './http-metrics.middleware';
import { JsonLogger } from './json.logger';
import { MetricsController } from './metrics.controller';
import { METRICS_SERVICE_NAME, MetricsService } from './metrics.service';

@Module({})
export class ObservabilityModule implements NestModule {
  static forRoot(service: ServiceName): DynamicModule {
    return {
      module: ObservabilityModule,
      global: true,
      controllers: [MetricsController],
      providers: [
        { provide: METRICS_SERVICE_NAME, useValue: service },
        MetricsService,
        HttpMetricsMiddleware,
        {
          provide: JsonLogger,
          useFactory: (config: PlatformConfig) => new JsonLogger(service, config.logLevel),
          inject: [PlatformConfig],
        },
      ],
      exports: [MetricsService, JsonLogger, METRICS_SERVICE_NAME],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes({ path: '{*path}', method: RequestMethod.ALL });
  }
}
