// Prometheus metrics of speech synthesis (names fixed: dashboards refer to them).
import { Injectable } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { Counter, Gauge, Histogram } from 'prom-client';

export type SpeechEndpoint = 'http' | 'nats';

@Injectable()
export class SpeechMetrics {
  readonly requests: Counter<'model' | 'endpoint' | 'status'>;
  readonly characters: Counter<'model'>;
  readonly audioSeconds: Counter<'model'>;
  readonly timeToFirstAudio: Histogram<'model'>;
  /** Model time over audio time per request (< 1: faster than real time). */
  readonly realTimeFactor: Histogram<'model'>;
  readonly queueOpen: Gauge;

  constructor(metrics: MetricsService) {
    const model = ['model'] as const;
    this.requests = metrics.counter({
      name: 'sovren_inference_speech_requests_total',
      help: 'Finished speech synthesis requests by model, endpoint (http, nats) and status (ok, error, cancelled).',
      labelNames: ['model', 'endpoint', 'status'],
    });
    this.characters = metrics.counter({
      name: 'sovren_inference_speech_characters_total',
      help: 'Input characters synthesised (billed), by model.',
      labelNames: model,
    });
    this.audioSeconds = metrics.counter({
      name: 'sovren_inference_speech_audio_seconds_total',
      help: 'Seconds of audio produced, by model.',
      labelNames: model,
    });
    this.timeToFirstAudio = metrics.histogram({
      name: 'sovren_inference_speech_time_to_first_audio_seconds',
      help: 'From acceptance to the first audio chunk of a request, in seconds.',
      labelNames: model,
      buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
    });
    this.realTimeFactor = metrics.histogram({
      name: 'sovren_inference_speech_real_time_factor',
      help: 'Model run time divided by the audio duration of a request.',
      labelNames: model,
      buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    });
    this.queueOpen = metrics.gauge({
      name: 'sovren_inference_speech_open_requests',
      help: 'Speech requests open (queued or synthesising).',
    });
  }
}
