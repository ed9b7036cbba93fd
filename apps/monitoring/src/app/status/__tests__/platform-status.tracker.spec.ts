import { HeartbeatV1 } from '@sovren/messaging';

import { PlatformStatusTracker } from '../platform-status.tracker';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (seconds: number): number => T0 + seconds * 1000;

function beat(service: string, instance: string, overrides: Partial<HeartbeatV1> = {}): HeartbeatV1 {
  return {
    v: 1,
    service,
    instance,
    version: '1.0.0',
    status: 'ok',
    uptimeSeconds: 1,
    time: new Date(T0).toISOString(),
    intervalSeconds: 5,
    ...overrides,
  };
}

describe('PlatformStatusTracker', () => {
  it('shows a service that beats as up, and the platform up when every expected service is', () => {
    const tracker = new PlatformStatusTracker(['auth', 'billing'], at(0));
    tracker.record(beat('auth', 'h:1'), at(1));
    tracker.record(beat('billing', 'h:2'), at(1));
    const status = tracker.snapshot(at(2));
    expect(status.state).toBe('up');
    expect(status.services.map((s) => [s.service, s.state])).toEqual([
      ['auth', 'up'],
      ['billing', 'up'],
    ]);
    expect(status.services[0].instances[0]).toMatchObject({
      instance: 'h:1',
      state: 'up',
      since: new Date(at(1)).toISOString(),
      lastError: null,
    });
  });

  it('shows an expected service that never beat as down with a reason', () => {
    const tracker = new PlatformStatusTracker(['auth', 'voice'], at(0));
    tracker.record(beat('auth', 'h:1'), at(1));
    const voice = tracker.snapshot(at(2)).services.find((s) => s.service === 'voice')!;
    expect(voice).toMatchObject({ state: 'down', seen: false, instances: [] });
    expect(voice.lastError).toMatch(/no heartbeat received/);
  });

  it('marks an instance down only after three missed intervals, since its last beat', () => {
    const tracker = new PlatformStatusTracker(['auth'], at(0));
    tracker.record(beat('auth', 'h:1'), at(10));
    tracker.sweep(at(25));
    expect(tracker.snapshot(at(25)).services[0].state).toBe('up');
    tracker.sweep(at(25.5));
    const auth = tracker.snapshot(at(25.5)).services[0];
    expect(auth.state).toBe('down');
    expect(auth.since).toBe(new Date(at(25.5)).toISOString());
    expect(auth.instances[0]).toMatchObject({ state: 'down', since: new Date(at(10)).toISOString() });
    expect(auth.lastError).toMatch(/no heartbeat for 16 s \(3 missed\)/);
    expect(tracker.snapshot(at(26)).state).toBe('down');
  });

  it('shows a degraded instance with its failing dependency and error', () => {
    const tracker = new PlatformStatusTracker(['billing'], at(0));
    tracker.record(beat('billing', 'h:2'), at(1));
    tracker.record(
      beat('billing', 'h:2', { status: 'degraded', failing: ['postgres'], lastError: 'postgres: ECONNREFUSED' }),
      at(6),
    );
    const billing = tracker.snapshot(at(7)).services[0];
    expect(billing).toMatchObject({
      state: 'degraded',
      since: new Date(at(6)).toISOString(),
      lastError: 'postgres: ECONNREFUSED',
    });
    expect(billing.instances[0].failing).toEqual(['postgres']);
    tracker.record(beat('billing', 'h:2'), at(11));
    const recovered = tracker.snapshot(at(12)).services[0];
    expect(recovered.state).toBe('up');
    expect(recovered.lastError).toBe('postgres: ECONNREFUSED'); // the last error stays visible
  });

  it('replaces a down instance by the restarted process on the same host', () => {
    const tracker = new PlatformStatusTracker(['voice'], at(0));
    tracker.record(beat('voice', 'h:100'), at(1));
    tracker.sweep(at(30));
    expect(tracker.snapshot(at(30)).services[0].state).toBe('down');
    tracker.record(beat('voice', 'h:200'), at(31));
    const voice = tracker.snapshot(at(31)).services[0];
    expect(voice.state).toBe('up');
    expect(voice.instances.map((i) => i.instance)).toEqual(['h:200']);
  });

  it('shows a service with one of two instances down as degraded', () => {
    const tracker = new PlatformStatusTracker(['inference'], at(0));
    tracker.record(beat('inference', 'a:1'), at(1));
    tracker.record(beat('inference', 'b:1'), at(1));
    tracker.record(beat('inference', 'b:1'), at(20));
    tracker.sweep(at(20));
    const snapshot = tracker.snapshot(at(20));
    expect(snapshot.services[0].state).toBe('degraded');
    expect(snapshot.state).toBe('degraded');
  });

  it('computes 5xx and total requests per service over the window from cumulative counts', () => {
    const tracker = new PlatformStatusTracker(['auth'], at(0));
    tracker.record(beat('auth', 'h:1', { httpRequests: 100, httpServerErrors: 1 }), at(0));
    tracker.record(beat('auth', 'h:1', { httpRequests: 150, httpServerErrors: 6 }), at(5));
    tracker.record(beat('auth', 'h:1', { httpRequests: 200, httpServerErrors: 11 }), at(10));
    expect(tracker.errorRates(at(10)).get('auth')).toEqual({ requests: 100, serverErrors: 10 });
  });

  it("computes the inter-token p99 over the window from two instances' cumulative histograms, like PromQL", () => {
    const tracker = new PlatformStatusTracker(['inference'], at(0));
    const le = [0.01, 0.05, 0.1];
    const histogram = (cumulative: number[], count: number) => ({
      interTokenSeconds: { le, cumulative, count },
      uptimeSeconds: 900,
    });
    // Before the window: 1000 fast tokens that must not count.
    tracker.record(beat('inference', 'h:1', histogram([1000, 1000, 1000], 1000)), at(0));
    tracker.record(beat('inference', 'h:2', histogram([0, 0, 0], 0)), at(0));
    // Over the window: instance 1 adds 90 tokens <= 10 ms and 10 in (50, 100] ms; instance 2 adds 100 in (10, 50].
    tracker.record(beat('inference', 'h:1', histogram([1090, 1090, 1100], 1100)), at(60));
    tracker.record(beat('inference', 'h:2', histogram([0, 100, 100], 100)), at(60));
    const p99 = tracker.interTokenQuantile(0.99, at(60)).get('inference');
    // 200 observations, rank 198: the (50, 100] bucket holds ranks 191..200 → 50 + 50 * (198 - 190) / 10 = 90 ms.
    expect(p99?.observations).toBe(200);
    expect(p99?.seconds).toBeCloseTo(0.09, 10);
    const p50 = tracker.interTokenQuantile(0.5, at(60)).get('inference');
    // rank 100: the (10, 50] bucket holds ranks 91..190 → 10 + 40 * (100 - 90) / 100 = 14 ms.
    expect(p50?.seconds).toBeCloseTo(0.014, 10);
    expect(tracker.interTokenQuantile(0.99, at(60)).has('auth')).toBe(false);
  });
});
