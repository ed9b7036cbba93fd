// Builds one HeartbeatV1 from what the process knows about itself. Pure, so tests need no clock or NATS.
import { CumulativeHistogramV1, HeartbeatV1 } from '@sovren/messaging';

/** What the heartbeat needs to know about readiness; libs/service's ReadinessService satisfies it. */
export interface HeartbeatReadinessSource {
  check(): Promise<{ ready: boolean; failing: string[]; checks: Array<{ name: string; ok: boolean; error?: string }> }>;
}

export interface HeartbeatFacts {
  service: string;
  instance: string;
  version: string;
  intervalSeconds: number;
  startedAt: number;
  now: number;
  readiness: Awaited<ReturnType<HeartbeatReadinessSource['check']>>;
  http: { requests: number; serverErrors: number };
  /** The inference inter-token histogram, when this process has one. */
  interTokenSeconds?: CumulativeHistogramV1;
}

export function buildHeartbeat(facts: HeartbeatFacts): HeartbeatV1 {
  const beat: HeartbeatV1 = {
    v: 1,
    service: facts.service,
    instance: facts.instance,
    version: facts.version,
    status: facts.readiness.ready ? 'ok' : 'degraded',
    uptimeSeconds: Math.max(0, Math.round((facts.now - facts.startedAt) / 1000)),
    time: new Date(facts.now).toISOString(),
    intervalSeconds: facts.intervalSeconds,
    httpRequests: facts.http.requests,
    httpServerErrors: facts.http.serverErrors,
  };
  if (facts.interTokenSeconds) beat.interTokenSeconds = facts.interTokenSeconds;
  if (!facts.readiness.ready) {
    beat.failing = [...facts.readiness.failing];
    const firstError = facts.readiness.checks.find((c) => !c.ok && c.error)?.error;
    if (firstError) beat.lastError = `${beat.failing[0]}: ${firstError}`.slice(0, 1024);
  }
  return beat;
}

/** Totals of the HTTP duration histogram's `_count` series: all requests, and those answered 5xx. */
export function httpTotals(
  values: Array<{ metricName?: string; labels: Record<string, string | number | undefined>; value: number }>,
): {
  requests: number;
  serverErrors: number;
} {
  let requests = 0;
  let serverErrors = 0;
  for (const sample of values) {
    if (!sample.metricName?.endsWith('_count')) continue;
    requests += sample.value;
    if (String(sample.labels['status'] ?? '').startsWith('5')) serverErrors += sample.value;
  }
  return { requests, serverErrors };
}

type HistogramSample = { metricName?: string; labels: Record<string, string | number | undefined>; value: number };

/**
 * One cumulative histogram from a prom-client histogram's samples, summing every label set (all models) per
 * bucket bound; undefined when nothing was observed yet.
 */
export function cumulativeHistogram(values: HistogramSample[]): CumulativeHistogramV1 | undefined {
  const buckets = new Map<number, number>();
  let count = 0;
  for (const sample of values) {
    if (sample.metricName?.endsWith('_count')) count += sample.value;
    if (!sample.metricName?.endsWith('_bucket')) continue;
    const le = Number(sample.labels['le']);
    if (!Number.isFinite(le)) continue; // +Inf is `count`
    buckets.set(le, (buckets.get(le) ?? 0) + sample.value);
  }
  if (count === 0) return undefined;
  const le = [...buckets.keys()].sort((a, b) => a - b);
  return { le, cumulative: le.map((bound) => buckets.get(bound) ?? 0), count };
}
