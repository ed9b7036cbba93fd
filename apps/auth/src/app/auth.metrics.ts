// Every Prometheus metric of the auth service, created once: auth.validate answers, their latency, rate-limit
// refusals and provider logins. The names are fixed: dashboards and the auth benchmark read them.
// AuthMetricsModule makes the one instance available to every auth feature.
import { Global, Injectable, Module } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { Counter, Histogram } from 'prom-client';

@Injectable()
export class AuthMetrics {
  readonly validations: Counter<'result'>;
  readonly validationLatency: Histogram<'kind'>;
  readonly rateLimitRejections: Counter<'tier'>;
  readonly logins: Counter<'provider' | 'result'>;

  constructor(metrics: MetricsService) {
    this.validations = metrics.counter({
      name: 'sovren_auth_validations_total',
      help: 'auth.validate answers by result (ok_anonymous, ok_session, ok_api_key, invalid, rate_limited).',
      labelNames: ['result'],
    });
    this.validationLatency = metrics.histogram({
      name: 'sovren_auth_validation_duration_seconds',
      help: 'Time auth spends answering one auth.validate (store lookups and rate-limit decision), in seconds.',
      labelNames: ['kind'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    });
    this.rateLimitRejections = metrics.counter({
      name: 'sovren_auth_rate_limit_rejections_total',
      help: 'Requests refused by the rate limit, by tier.',
      labelNames: ['tier'],
    });
    this.logins = metrics.counter({
      name: 'sovren_auth_logins_total',
      help: 'Provider logins by provider and result (success, or the refusal reason).',
      labelNames: ['provider', 'result'],
    });
  }
}

@Global()
@Module({ providers: [AuthMetrics], exports: [AuthMetrics] })
export class AuthMetricsModule {}
