// @sovren/observability: request context, JSON logging and Prometheus metrics shared by every service.
export * from './lib/request-context';
export * from './lib/raw-response.decorator';
export * from './lib/json.logger';
export * from './lib/metrics.service';
export * from './lib/metric-names';
export * from './lib/http-metrics.middleware';
export * from './lib/metrics.controller';
export * from './lib/observability.module';
