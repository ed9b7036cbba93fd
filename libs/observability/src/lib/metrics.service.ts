// The process's Prometheus metrics: one registry with default process metrics, the HTTP request duration
// histogram, and factories that keep every custom metric on the `sovren_` naming convention.
import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Metric, Registry } from 'prom-client';

export const METRICS_SERVICE_NAME = Symbol('sovren:metrics-service-name');

/** Seconds; covers a fast health check (5 ms) up to a slow LLM request (30 s). */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const METRIC_NAME = /^sovren_[a-z][a-z0-9_]*$/;

export interface MetricOptions<L extends string> {
  /** `sovren_<subsystem>_<what>_<unit>`; counters end in `_total`; units are base units (`_seconds`, `_bytes`). */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  buckets?: number[];
}

export type HttpRequestLabels = 'method' | 'route' | 'status';

@Injectable()
export class MetricsService {
  /** One registry per MetricsService: one per process in production, one per app when tests start several. */
  readonly registry = new Registry();
  readonly httpRequestDuration: Histogram<HttpRequestLabels>;

  constructor(@Inject(METRICS_SERVICE_NAME) readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.httpRequestDuration = this.histogram({
      name: 'sovren_http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_DURATION_BUCKETS,
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric in this registry. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** A counter on this registry; asking twice for one name returns the same counter. */
  counter<L extends string = string>(options: MetricOptions<L>): Counter<L> {
    assertMetricName(options.name, 'counter');
    return this.existing(options.name, Counter) ?? new Counter<L>(this.base(options));
  }

  gauge<L extends string = string>(options: MetricOptions<L>): Gauge<L> {
    assertMetricName(options.name, 'gauge');
    return this.existing(options.name, Gauge) ?? new Gauge<L>(this.base(options));
  }

  histogram<L extends string = string>(options: HistogramOptions<L>): Histogram<L> {
    assertMetricName(options.name, 'histogram');
    const existing = this.existing(options.name, Histogram);
    if (existing) return existing;
    return new Histogram<L>(options.buckets ? { ...this.base(options), buckets: options.buckets } : this.base(options));
  }

  private base<L extends string>(options: MetricOptions<L>) {
    return {
      name: options.name,
      help: options.help,
      labelNames: [...(options.labelNames ?? [])],
      registers: [this.registry],
    };
  }

  private existing<M extends Metric>(name: string, type: abstract new (...args: never[]) => M): M | undefined {
    const found = this.registry.getSingleMetric(name);
    if (found === undefined) return undefined;
    if (!(found instanceof type)) {
      throw new Error(`metric ${name} is already registered as another metric type`);
    }
    return found;
  }
}

function assertMetricName(name: string, kind: 'counter' | 'gauge' | 'histogram'): void {
  if (!METRIC_NAME.test(name)) {
    throw new Error(`metric name "${name}" must match ${METRIC_NAME} (sovren_ prefix, lower snake case)`);
  }
  if (kind === 'counter' && !name.endsWith('_total')) {
    throw new Error(`counter "${name}" must end in _total`);
  }
  if (kind !== 'counter' && name.endsWith('_total')) {
    throw new Error(`${kind} "${name}" must not end in _total (reserved for counters)`);
  }
}
