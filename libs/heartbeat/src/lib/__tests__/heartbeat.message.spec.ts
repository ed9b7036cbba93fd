import { parseHeartbeatV1 } from '@sovren/messaging';
import { INFERENCE_INTER_TOKEN_SECONDS, MetricsService } from '@sovren/observability';

import { buildHeartbeat, cumulativeHistogram, httpTotals } from '../heartbeat.message';

const base = {
  service: 'billing',
  instance: 'host-a:4242',
  version: '1.2.3',
  intervalSeconds: 5,
  startedAt: Date.parse('2026-01-01T00:00:00.000Z'),
  now: Date.parse('2026-01-01T00:01:30.400Z'),
  http: { requests: 12, serverErrors: 1 },
};

describe('buildHeartbeat', () => {
  it('reports a ready process as ok, with its uptime and HTTP totals, as a valid HeartbeatV1', () => {
    const beat = buildHeartbeat({
      ...base,
      readiness: { ready: true, failing: [], checks: [{ name: 'nats', ok: true }] },
    });
    expect(beat).toEqual({
      v: 1,
      service: 'billing',
      instance: 'host-a:4242',
      version: '1.2.3',
      status: 'ok',
      uptimeSeconds: 90,
      time: '2026-01-01T00:01:30.400Z',
      intervalSeconds: 5,
      httpRequests: 12,
      httpServerErrors: 1,
    });
    expect(parseHeartbeatV1(JSON.parse(JSON.stringify(beat)))).toEqual(beat);
  });

  it('reports a process with a failing dependency as degraded, naming the dependency and its error', () => {
    const beat = buildHeartbeat({
      ...base,
      readiness: {
        ready: false,
        failing: ['postgres'],
        checks: [
          { name: 'nats', ok: true },
          { name: 'postgres', ok: false, error: 'connect ECONNREFUSED 127.0.0.1:5432' },
        ],
      },
    });
    expect(beat.status).toBe('degraded');
    expect(beat.failing).toEqual(['postgres']);
    expect(beat.lastError).toBe('postgres: connect ECONNREFUSED 127.0.0.1:5432');
    expect(parseHeartbeatV1(JSON.parse(JSON.stringify(beat)))).toEqual(beat);
  });
});

describe('httpTotals', () => {
  it('sums the histogram _count series and the 5xx ones, ignoring buckets and sums', () => {
    expect(
      httpTotals([
        { metricName: 'sovren_http_request_duration_seconds_bucket', labels: { status: '500', le: 0.1 }, value: 9 },
        { metricName: 'sovren_http_request_duration_seconds_count', labels: { status: '200' }, value: 7 },
        { metricName: 'sovren_http_request_duration_seconds_count', labels: { status: '503' }, value: 2 },
        { metricName: 'sovren_http_request_duration_seconds_count', labels: { status: '404' }, value: 1 },
        { metricName: 'sovren_http_request_duration_seconds_sum', labels: { status: '503' }, value: 0.5 },
      ]),
    ).toEqual({ requests: 10, serverErrors: 2 });
  });
});

describe('cumulativeHistogram', () => {
  it('sums a real histogram over its label sets per bucket, and the beat carrying it round-trips', async () => {
    const metrics = new MetricsService('inference');
    const histogram = metrics.histogram({
      name: INFERENCE_INTER_TOKEN_SECONDS,
      help: 'test',
      labelNames: ['model'],
      buckets: [0.01, 0.05, 0.09],
    });
    expect(cumulativeHistogram((await histogram.get()).values)).toBeUndefined();
    for (const seconds of [0.005, 0.02, 0.02, 0.2]) histogram.observe({ model: 'a' }, seconds);
    for (const seconds of [0.07, 0.5]) histogram.observe({ model: 'b' }, seconds);
    const summed = cumulativeHistogram((await histogram.get()).values);
    expect(summed).toEqual({ le: [0.01, 0.05, 0.09], cumulative: [1, 3, 4], count: 6 });
    const beat = buildHeartbeat({
      ...base,
      readiness: { ready: true, failing: [], checks: [] },
      interTokenSeconds: summed,
    });
    expect(parseHeartbeatV1(JSON.parse(JSON.stringify(beat)))).toEqual(beat);
  });
});
