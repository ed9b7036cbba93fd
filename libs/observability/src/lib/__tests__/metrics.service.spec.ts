import { MetricsService } from '../metrics.service';

describe('MetricsService', () => {
  it('exposes default process metrics labelled with the service', async () => {
    const metrics = new MetricsService('billing');

    const text = await metrics.metrics();

    expect(metrics.contentType).toContain('text/plain');
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="billing"\} \d/m);
    expect(text).toContain('# TYPE sovren_http_request_duration_seconds histogram');
  });

  it('keeps each service in its own registry', async () => {
    const auth = new MetricsService('auth');
    const voice = new MetricsService('voice');
    auth.counter({ name: 'sovren_auth_logins_total', help: 'Logins.' }).inc();

    expect(await auth.metrics()).toContain('sovren_auth_logins_total{service="auth"} 1');
    expect(await voice.metrics()).not.toContain('sovren_auth_logins_total');
  });

  it('creates counters, gauges and histograms on the shared registry, once per name', async () => {
    const metrics = new MetricsService('voice');
    const calls = metrics.counter({ name: 'sovren_voice_calls_total', help: 'Calls.', labelNames: ['direction'] });
    calls.inc({ direction: 'inbound' });
    metrics.counter({ name: 'sovren_voice_calls_total', help: 'Calls.', labelNames: ['direction'] }).inc({
      direction: 'inbound',
    });
    metrics.gauge({ name: 'sovren_voice_active_calls', help: 'Active calls.' }).set(3);
    metrics
      .histogram({ name: 'sovren_voice_asr_latency_seconds', help: 'ASR latency.', buckets: [0.05, 0.15] })
      .observe(0.1);

    const text = await metrics.metrics();
    expect(text).toContain('sovren_voice_calls_total{direction="inbound",service="voice"} 2');
    expect(text).toContain('sovren_voice_active_calls{service="voice"} 3');
    expect(text).toContain('sovren_voice_asr_latency_seconds_bucket{le="0.15",service="voice"} 1');
  });

  it('refuses names off the naming convention', () => {
    const metrics = new MetricsService('auth');

    expect(() => metrics.counter({ name: 'logins_total', help: 'x' })).toThrow(/sovren_ prefix/);
    expect(() => metrics.counter({ name: 'sovren_logins', help: 'x' })).toThrow(/must end in _total/);
    expect(() => metrics.gauge({ name: 'sovren_sessions_total', help: 'x' })).toThrow(/must not end in _total/);
    expect(() => metrics.histogram({ name: 'sovren_Latency', help: 'x' })).toThrow(/lower snake case/);
  });

  it('refuses to reuse a name for another metric type', () => {
    const metrics = new MetricsService('auth');
    metrics.gauge({ name: 'sovren_auth_sessions', help: 'x' });

    expect(() => metrics.histogram({ name: 'sovren_auth_sessions', help: 'x' })).toThrow(/another metric type/);
  });
});
