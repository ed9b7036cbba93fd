// Builds one HeartbeatV1 from what the process knows about itself. Pure, so tests need no clock or NATS.
import { HeartbeatV1 } from '@sovren/messaging';

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
  if (!facts.readiness.ready) {
    beat.failing = [...facts.readiness.failing];
    const firstError = facts.readiness.checks.find((c) => !c.ok && c.error)?.error;
    if (firstError) beat.lastError = `${beat.failing[0]}: ${firstError}`.slice(0, 1024);
  }
  return beat;
}

/** Totals of the HTTP duration histogram's `_count` series: all requests, and those answered 5xx. */
export function httpTotals(values: Array<{ metricName?: string; labels: Record<string, string | number | undefined>; value: number }>): {
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
