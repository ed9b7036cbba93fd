// Every Prometheus metric of the inference service, created once. The names are fixed: monitoring's alert rules
// and the Grafana dashboard refer to them. touchModel() gives each metric its label set for a model as soon as the
// model is discovered, so a scrape of an idle service already names them all.
import { Injectable } from '@nestjs/common';
import { INFERENCE_INTER_TOKEN_SECONDS, MetricsService } from '@sovren/observability';
import type { Counter, Gauge, Histogram } from 'prom-client';

export type InferenceEndpoint = 'chat' | 'completions' | 'nats' | 'embeddings';
export type RequestStatus = 'ok' | 'error' | 'cancelled';

const ENDPOINTS: readonly InferenceEndpoint[] = ['chat', 'completions', 'nats', 'embeddings'];
const STATUSES: readonly RequestStatus[] = ['ok', 'error', 'cancelled'];

/** 5 ms … 500 ms, with 0.09 (the 90 ms per-token target) as an edge so the alert reads it without interpolation. */
export const INTER_TOKEN_BUCKETS = [0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.09, 0.12, 0.15, 0.2, 0.3, 0.5];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
const STEP_BUCKETS = [0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.09, 0.12, 0.2, 0.5, 1, 2, 5];
const STEP_SEQUENCE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

@Injectable()
export class InferenceMetrics {
  readonly promptTokens: Counter<'model'>;
  readonly generatedTokens: Counter<'model'>;
  readonly requests: Counter<'model' | 'endpoint' | 'status'>;
  readonly timeToFirstToken: Histogram<'model'>;
  readonly interToken: Histogram<'model'>;
  readonly stepSeconds: Histogram<'model'>;
  /** How many sequences one batched step carried: >1 proves requests were batched together. */
  readonly stepSequences: Histogram<'model'>;
  readonly queueDepth: Gauge<'model'>;
  readonly activeSequences: Gauge<'model'>;
  readonly kvCacheOccupancy: Gauge<'model'>;
  /** Prefix cache: hit rate = rate(hits) / rate(lookups); prompt tokens not evaluated = hit_tokens. */
  readonly prefixCacheLookups: Counter<'model'>;
  readonly prefixCacheHits: Counter<'model'>;
  readonly prefixCacheHitTokens: Counter<'model'>;
  readonly prefixCacheBytes: Gauge<'model'>;
  readonly prefixCacheEntries: Gauge<'model'>;
  readonly modelLoaded: Gauge<'model'>;
  readonly modelLoadFailures: Counter<'model'>;
  /** Speech synthesis (apps/inference/src/app/speech): requests by model, endpoint (http, nats) and status. */
  readonly speechRequests: Counter<'model' | 'endpoint' | 'status'>;
  readonly speechCharacters: Counter<'model'>;
  readonly speechAudioSeconds: Counter<'model'>;
  readonly speechTimeToFirstAudio: Histogram<'model'>;
  /** Model run time over audio time per speech request (< 1: faster than real time). */
  readonly speechRealTimeFactor: Histogram<'model'>;
  readonly speechOpenRequests: Gauge;

  constructor(metrics: MetricsService) {
    const model = ['model'] as const;
    this.promptTokens = metrics.counter({
      name: 'sovren_inference_prompt_tokens_total',
      help: 'Prompt tokens processed, by model.',
      labelNames: model,
    });
    this.generatedTokens = metrics.counter({
      name: 'sovren_inference_generated_tokens_total',
      help: 'Completion tokens generated, by model.',
      labelNames: model,
    });
    this.requests = metrics.counter({
      name: 'sovren_inference_requests_total',
      help: 'Finished generation requests by model, endpoint (chat, completions, nats, embeddings) and status (ok, error, cancelled).',
      labelNames: ['model', 'endpoint', 'status'],
    });
    this.timeToFirstToken = metrics.histogram({
      name: 'sovren_inference_time_to_first_token_seconds',
      help: 'From acceptance (queue included) to the first generated token, in seconds.',
      labelNames: model,
      buckets: TTFT_BUCKETS,
    });
    this.interToken = metrics.histogram({
      // Shared name: the heartbeat forwards this histogram to monitoring's alert rules.
      name: INFERENCE_INTER_TOKEN_SECONDS,
      help: 'Time between two consecutive tokens of one request, in seconds.',
      labelNames: model,
      buckets: INTER_TOKEN_BUCKETS,
    });
    this.stepSeconds = metrics.histogram({
      name: 'sovren_inference_step_seconds',
      help: 'Duration of one batched engine step (all sequences of the batch), in seconds.',
      labelNames: model,
      buckets: STEP_BUCKETS,
    });
    this.stepSequences = metrics.histogram({
      name: 'sovren_inference_step_sequences',
      help: 'Sequences carried by one batched engine step.',
      labelNames: model,
      buckets: STEP_SEQUENCE_BUCKETS,
    });
    this.queueDepth = metrics.gauge({
      name: 'sovren_inference_queue_depth',
      help: 'Requests waiting for a free sequence, by model.',
      labelNames: model,
    });
    this.activeSequences = metrics.gauge({
      name: 'sovren_inference_active_sequences',
      help: 'Sequences serving a request right now, by model.',
      labelNames: model,
    });
    this.kvCacheOccupancy = metrics.gauge({
      name: 'sovren_inference_kv_cache_occupancy_ratio',
      help: 'Used KV-cache positions over all positions of the model sequence pool (0-1).',
      labelNames: model,
    });
    this.prefixCacheLookups = metrics.counter({
      name: 'sovren_inference_prefix_cache_lookups_total',
      help: 'Prompts looked up in the prefix cache, by model.',
      labelNames: model,
    });
    this.prefixCacheHits = metrics.counter({
      name: 'sovren_inference_prefix_cache_hits_total',
      help: 'Prompts that started from a cached prefix, by model (hit rate: over lookups_total).',
      labelNames: model,
    });
    this.prefixCacheHitTokens = metrics.counter({
      name: 'sovren_inference_prefix_cache_hit_tokens_total',
      help: 'Prompt tokens restored from the prefix cache instead of evaluated, by model.',
      labelNames: model,
    });
    this.prefixCacheBytes = metrics.gauge({
      name: 'sovren_inference_prefix_cache_bytes',
      help: 'Bytes of KV cache the prefix cache holds, by model.',
      labelNames: model,
    });
    this.prefixCacheEntries = metrics.gauge({
      name: 'sovren_inference_prefix_cache_entries',
      help: 'Cached prompt prefixes (KV snapshots), by model.',
      labelNames: model,
    });
    this.modelLoaded = metrics.gauge({
      name: 'sovren_inference_model_loaded',
      help: '1 while the model is loaded, 0 otherwise.',
      labelNames: model,
    });
    this.modelLoadFailures = metrics.counter({
      name: 'sovren_inference_model_load_failures_total',
      help: 'Failed attempts to load the model.',
      labelNames: model,
    });
    this.speechRequests = metrics.counter({
      name: 'sovren_inference_speech_requests_total',
      help: 'Finished speech synthesis requests by model, endpoint (http, nats) and status (ok, error, cancelled).',
      labelNames: ['model', 'endpoint', 'status'],
    });
    this.speechCharacters = metrics.counter({
      name: 'sovren_inference_speech_characters_total',
      help: 'Input characters synthesised (billed), by speech model.',
      labelNames: model,
    });
    this.speechAudioSeconds = metrics.counter({
      name: 'sovren_inference_speech_audio_seconds_total',
      help: 'Seconds of audio produced, by speech model.',
      labelNames: model,
    });
    this.speechTimeToFirstAudio = metrics.histogram({
      name: 'sovren_inference_speech_time_to_first_audio_seconds',
      help: 'From acceptance to the first audio chunk of a speech request, in seconds.',
      labelNames: model,
      buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
    });
    this.speechRealTimeFactor = metrics.histogram({
      name: 'sovren_inference_speech_real_time_factor',
      help: 'Model run time divided by the audio duration of a speech request.',
      labelNames: model,
      buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
    });
    this.speechOpenRequests = metrics.gauge({
      name: 'sovren_inference_speech_open_requests',
      help: 'Speech requests open (queued or synthesising).',
    });
  }

  /** Creates every label set of `model` (zero values), so the series exist before the first request. */
  touchModel(model: string): void {
    const labels = { model };
    this.promptTokens.inc(labels, 0);
    this.generatedTokens.inc(labels, 0);
    this.modelLoadFailures.inc(labels, 0);
    for (const endpoint of ENDPOINTS) for (const status of STATUSES) this.requests.inc({ model, endpoint, status }, 0);
    this.timeToFirstToken.zero(labels);
    this.interToken.zero(labels);
    this.stepSeconds.zero(labels);
    this.stepSequences.zero(labels);
    this.queueDepth.set(labels, 0);
    this.activeSequences.set(labels, 0);
    this.kvCacheOccupancy.set(labels, 0);
    this.prefixCacheLookups.inc(labels, 0);
    this.prefixCacheHits.inc(labels, 0);
    this.prefixCacheHitTokens.inc(labels, 0);
    this.prefixCacheBytes.set(labels, 0);
    this.prefixCacheEntries.set(labels, 0);
    this.modelLoaded.set(labels, 0);
  }
}
