// Every Prometheus metric of the billing service's own code, created once: usage events by result, owners waiting
// out a backoff, the Kill Bill configuration fault and the consumer lag. (The Kill Bill client's request, error and
// circuit metrics belong to @sovren/killbill.) BillingMetricsModule makes the one instance available to every
// billing feature.
import { Global, Injectable, Module } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { Counter, Gauge } from 'prom-client';

export const USAGE_EVENT_RESULTS = ['consumed', 'recorded', 'duplicate', 'failed', 'dead_lettered'] as const;

@Injectable()
export class BillingMetrics {
  readonly usageEvents: Counter<'result'>;
  readonly usageOwnersWaiting: Gauge;
  readonly killbillConfigurationFault: Gauge;
  readonly consumerLag: Gauge;

  constructor(metrics: MetricsService) {
    this.usageEvents = metrics.counter({
      name: 'sovren_billing_usage_events_total',
      help: 'Usage events by result: consumed (read from the stream), recorded (accepted by Kill Bill), duplicate, failed (refused by Kill Bill), dead_lettered (malformed).',
      labelNames: ['result'],
    });
    for (const result of USAGE_EVENT_RESULTS) this.usageEvents.inc({ result }, 0);
    this.usageOwnersWaiting = metrics.gauge({
      name: 'sovren_billing_usage_owners_waiting',
      help: 'Owners whose usage is waiting out a backoff because their Kill Bill calls failed.',
    });
    this.killbillConfigurationFault = metrics.gauge({
      name: 'sovren_billing_killbill_configuration_fault',
      help: '1 while Kill Bill refuses billing (401/403) or egress refuses Kill Bill: usage waits, nothing is billed.',
    });
    this.killbillConfigurationFault.set(0);
    this.consumerLag = metrics.gauge({
      name: 'sovren_billing_consumer_lag_messages',
      help: 'Usage messages in stream USAGE not yet delivered to the billing consumer.',
    });
  }
}

@Global()
@Module({ providers: [BillingMetrics], exports: [BillingMetrics] })
export class BillingMetricsModule {}
