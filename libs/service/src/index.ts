// @sovren/service: what every SOVREN service process is built from.
export * from './lib/bootstrap-service';
export * from './lib/health.controller';
export * from './lib/openapi';
export * from './lib/ping.responder';
export * from './lib/readiness.service';
export * from './lib/service-options';
export * from './lib/service.module';
