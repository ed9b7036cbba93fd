import { parseHeartbeatV1 } from '@sovren/messaging';

import { buildHeartbeat, httpTotals } from '../heartbeat.message';

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
    const beat = buildHeartbeat({ ...base, readiness: { ready: true, failing: [], checks: [{ name: 'nats', ok: true }] } });
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
        checks: [{ name: 'nats', ok: true }, { name: 'postgres', ok: false, error: 'connect ECONNREFUSED 127.0.0.1:5432' }],
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
