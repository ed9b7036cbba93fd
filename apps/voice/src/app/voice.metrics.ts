// Every Prometheus metric of the voice service's signalling side, created once. The names are fixed: the Grafana
// dashboard's voice panels refer to them. (RTP quality metrics live with the media code.)
import { Injectable } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { Counter, Gauge, Histogram } from 'prom-client';

import { REFUSAL_REASONS } from './sip/sip-edge';

export const CALL_RESULTS = ['answered', 'rejected', 'cancelled', 'failed', 'busy', 'no_answer'] as const;
export type CallResult = (typeof CALL_RESULTS)[number];
const DIRECTIONS = ['inbound', 'outbound'] as const;
const SETUP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const DURATION_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1200, 3600];

@Injectable()
export class VoiceMetrics {
  readonly activeCalls: Gauge<'direction'>;
  readonly calls: Counter<'direction' | 'result'>;
  readonly sipResponses: Counter<'code'>;
  readonly sipRequests: Counter<'method'>;
  readonly sipRefused: Counter<'reason'>;
  readonly setupSeconds: Histogram<'direction'>;
  readonly callSeconds: Histogram<'direction'>;
  readonly registered: Gauge;

  constructor(metrics: MetricsService) {
    this.activeCalls = metrics.gauge({
      name: 'sovren_voice_active_calls',
      help: 'Calls in progress (ringing or answered), by direction.',
      labelNames: ['direction'],
    });
    this.calls = metrics.counter({
      name: 'sovren_voice_calls_total',
      help: 'Finished call attempts by direction and result (answered, rejected, cancelled, failed, busy, no_answer).',
      labelNames: ['direction', 'result'],
    });
    this.sipResponses = metrics.counter({
      name: 'sovren_voice_sip_responses_total',
      help: 'SIP responses the service sent, by status code.',
      labelNames: ['code'],
    });
    this.sipRequests = metrics.counter({
      name: 'sovren_voice_sip_requests_total',
      help: 'SIP requests received past the edge, by method.',
      labelNames: ['method'],
    });
    this.sipRefused = metrics.counter({
      name: 'sovren_voice_sip_refused_total',
      help: 'SIP messages refused at the edge, by reason (untrusted, rate_limited, malformed, too_large).',
      labelNames: ['reason'],
    });
    this.setupSeconds = metrics.histogram({
      name: 'sovren_voice_call_setup_seconds',
      help: 'INVITE to 200 OK, in seconds, by direction.',
      labelNames: ['direction'],
      buckets: SETUP_BUCKETS,
    });
    this.callSeconds = metrics.histogram({
      name: 'sovren_voice_call_duration_seconds',
      help: 'Answered call duration, in seconds, by direction.',
      labelNames: ['direction'],
      buckets: DURATION_BUCKETS,
    });
    this.registered = metrics.gauge({
      name: 'sovren_voice_sip_registered',
      help: '1 while our REGISTER with the carrier is current (0 when not registered or not configured).',
    });
    for (const direction of DIRECTIONS) {
      this.activeCalls.labels(direction).set(0);
      for (const result of CALL_RESULTS) this.calls.labels(direction, result).inc(0);
    }
    for (const reason of REFUSAL_REASONS) this.sipRefused.labels(reason).inc(0);
  }
}
