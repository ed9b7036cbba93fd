import { parseAlertV1 } from '@sovren/messaging';

import { ServiceStatus } from '../../status/platform-status.tracker';
import { AlertInputs, evaluateAlertRules } from '../alert-rules';
import { AlertState } from '../alert-state';

const thresholds = {
  diskUsedRatio: 0.9,
  errorRatio: 0.05,
  gpuTemperatureCelsius: 85,
  gpuMemoryUsedRatio: 0.95,
  interTokenP99Seconds: 0.09,
};

function service(name: string, state: ServiceStatus['state'], extra: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    service: name,
    state,
    since: '2026-01-01T00:00:00.000Z',
    lastError: null,
    seen: true,
    instances: [],
    ...extra,
  };
}

const inputs = (overrides: Partial<AlertInputs>): AlertInputs => ({
  services: [],
  startupGraceOver: true,
  errorRates: new Map(),
  interTokenP99: new Map(),
  gpus: [],
  thresholds,
  ...overrides,
});

describe('evaluateAlertRules', () => {
  it('raises ServiceDown for a down service, but not for one never seen while monitoring is starting', () => {
    const services = [
      service('billing', 'down', { lastError: 'no heartbeat for 16 s (3 missed)' }),
      service('voice', 'down', { seen: false }),
    ];
    expect(evaluateAlertRules(inputs({ services, startupGraceOver: false })).map((c) => c.fingerprint)).toEqual([
      'ServiceDown:billing',
    ]);
    const all = evaluateAlertRules(inputs({ services }));
    expect(all.map((c) => c.fingerprint)).toEqual(['ServiceDown:billing', 'ServiceDown:voice']);
    expect(all[0]).toMatchObject({
      rule: 'ServiceDown',
      severity: 'critical',
      service: 'billing',
      summary: 'billing is down: no heartbeat for 16 s (3 missed)',
    });
  });

  it('raises ReadinessFailing naming the failing dependencies', () => {
    const instances = [
      {
        instance: 'h:1',
        state: 'degraded' as const,
        since: '',
        version: '1',
        uptimeSeconds: 1,
        lastHeartbeatAt: '',
        failing: ['postgres'],
        lastError: 'x',
      },
    ];
    const [condition] = evaluateAlertRules(inputs({ services: [service('auth', 'degraded', { instances })] }));
    expect(condition).toMatchObject({ fingerprint: 'ReadinessFailing:auth', severity: 'warning' });
    expect(condition.summary).toContain('postgres failing');
  });

  it('raises HighErrorRate above the limit, and not on too few requests', () => {
    const rates = new Map([
      ['auth', { requests: 100, serverErrors: 6 }],
      ['voice', { requests: 10, serverErrors: 10 }],
      ['billing', { requests: 100, serverErrors: 5 }],
    ]);
    expect(evaluateAlertRules(inputs({ errorRates: rates })).map((c) => c.fingerprint)).toEqual(['HighErrorRate:auth']);
  });

  it('raises InferenceInterTokenLatencyHigh when p99 exceeds the limit over enough tokens only', () => {
    const p99 = new Map([
      ['inference', { seconds: 0.12, observations: 5000 }],
      ['inference-b', { seconds: 0.5, observations: 99 }],
      ['inference-c', { seconds: 0.09, observations: 5000 }],
    ]);
    const conditions = evaluateAlertRules(inputs({ interTokenP99: p99 }));
    expect(conditions.map((c) => c.fingerprint)).toEqual(['InferenceInterTokenLatencyHigh:inference']);
    expect(conditions[0].summary).toBe(
      'inference: p99 time between streamed tokens is 120 ms over 5000 tokens in 5 minutes (limit 90 ms)',
    );
  });

  it('raises DiskNearlyFull and the GPU rules over their limits only', () => {
    const conditions = evaluateAlertRules(
      inputs({
        disk: { path: '/data/sovren', usedRatio: 0.93 },
        gpus: [
          { index: 0, name: 'H100', temperatureCelsius: 90, memoryUsedBytes: 96, memoryTotalBytes: 100 },
          { index: 1, name: 'H100', temperatureCelsius: 85, memoryUsedBytes: 95, memoryTotalBytes: 100 },
        ],
      }),
    );
    expect(conditions.map((c) => c.fingerprint)).toEqual([
      'DiskNearlyFull:/data/sovren',
      'GpuTemperatureHigh:0',
      'GpuMemoryNearlyFull:0',
    ]);
    expect(evaluateAlertRules(inputs({ disk: { path: '/data/sovren', usedRatio: 0.9 } }))).toEqual([]);
  });

  it('raises StreamNearlyFull for a JetStream stream past 80 % of its limits only', () => {
    const conditions = evaluateAlertRules(
      inputs({
        streams: [
          { stream: 'USAGE', usedRatio: 0.85, bytes: 1_825_361_100, messages: 4_000_000 },
          { stream: 'AUDIT', usedRatio: 0.8, bytes: 1_717_986_918, messages: 10 },
        ],
      }),
    );
    expect(conditions).toEqual([
      {
        fingerprint: 'StreamNearlyFull:USAGE',
        rule: 'StreamNearlyFull',
        severity: 'warning',
        summary:
          'JetStream stream USAGE is 85.0% full (4000000 messages, 1825361100 bytes; limit 80.0%): its consumer is behind or down',
      },
    ]);
  });
});

describe('AlertState', () => {
  it('fires once when a condition appears and resolves once when it goes away, as valid AlertV1 events', () => {
    const state = new AlertState();
    const down = {
      fingerprint: 'ServiceDown:billing',
      rule: 'ServiceDown' as const,
      severity: 'critical' as const,
      service: 'billing',
      summary: 'billing is down',
    };
    const fired = state.update([down], Date.parse('2026-01-01T00:00:10.000Z'));
    expect(fired).toEqual([
      {
        v: 1,
        fingerprint: 'ServiceDown:billing',
        rule: 'ServiceDown',
        state: 'firing',
        severity: 'critical',
        service: 'billing',
        summary: 'billing is down',
        startsAt: '2026-01-01T00:00:10.000Z',
      },
    ]);
    expect(state.update([down], Date.parse('2026-01-01T00:00:11.000Z'))).toEqual([]);
    expect(state.firing()).toHaveLength(1);
    const resolved = state.update([], Date.parse('2026-01-01T00:00:40.000Z'));
    expect(resolved).toEqual([{ ...fired[0], state: 'resolved', endsAt: '2026-01-01T00:00:40.000Z' }]);
    expect(state.firing()).toEqual([]);
    for (const event of [...fired, ...resolved]) expect(parseAlertV1(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('takes over an alert left firing by a previous run: no second firing, resolves only after the start-up grace', () => {
    const state = new AlertState();
    const down = {
      fingerprint: 'ServiceDown:voice',
      rule: 'ServiceDown' as const,
      severity: 'critical' as const,
      service: 'voice',
      summary: 'voice is down',
    };
    state.restore([{ condition: down, startsAt: '2026-01-01T00:00:00.000Z' }]);
    expect(state.update([], Date.parse('2026-01-01T00:05:00.000Z'), false)).toEqual([]);
    expect(state.update([down], Date.parse('2026-01-01T00:05:01.000Z'), true)).toEqual([]);
    const [resolved] = state.update([], Date.parse('2026-01-01T00:06:00.000Z'), true);
    expect(resolved).toMatchObject({
      state: 'resolved',
      startsAt: '2026-01-01T00:00:00.000Z',
      endsAt: '2026-01-01T00:06:00.000Z',
    });
  });

  it('refuses an AlertV1 that is firing with an end time, or resolved without one', () => {
    const base = {
      v: 1,
      fingerprint: 'f',
      rule: 'ServiceDown',
      severity: 'critical',
      summary: 's',
      startsAt: '2026-01-01T00:00:00.000Z',
    };
    expect(() => parseAlertV1({ ...base, state: 'firing', endsAt: '2026-01-01T00:00:01.000Z' })).toThrow(/endsAt/);
    expect(() => parseAlertV1({ ...base, state: 'resolved' })).toThrow(/endsAt/);
    expect(() => parseAlertV1({ ...base, state: 'pending' })).toThrow(/state/);
  });
});
