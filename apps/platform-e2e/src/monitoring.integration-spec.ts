// Monitoring as an operator relies on it: the five services as real processes send heartbeats; the status API,
// alert mail (to a real SMTP server), alerts on NATS, alert history, a real Prometheus scraping every service
// with deploy/prometheus, and the Grafana dashboards checked against what the services really export.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, JSONCodec, NatsConnection } from 'nats';
import { Client } from 'pg';
import { eventually, seedAuthUser, startSmtpServer, type LocalSmtpServer } from '@sovren/testing';

import { Platform, SERVICES } from './support/platform';
import { PrometheusTestServer } from './support/prometheus-test-server';
import { parsePrometheusText } from './support/prometheus-text';
import { promqlMetricNames } from './support/promql-metric-names';

const workspaceRoot = resolve(__dirname, '../../..');
/** MONITORING_ALERT in libs/messaging (the e2e project talks to the platform from outside, like an operator). */
const MONITORING_ALERT = 'monitoring.alert';

/** AlertV1 as received on NATS. */
interface AlertV1 {
  v: number;
  fingerprint: string;
  rule: string;
  state: 'firing' | 'resolved';
  severity: string;
  service?: string;
  summary: string;
  startsAt: string;
  endsAt?: string;
}
const RECIPIENTS = ['ops@example.test', 'oncall@example.test'];

// What `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` prints for two GPUs; a script replays it so
// the GPU path (exec, parse, export) runs end to end on this GPU-less test machine.
const NVIDIA_SMI_OUTPUT = [
  '0, GPU-6f1a2b3c-0000-1111-2222-333344445555, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 0',
  '1, GPU-7a8b9c0d-6666-7777-8888-999900001111, NVIDIA H100 80GB HBM3, 0, 4, 81559, 33, 69.10, [N/A]',
].join('\n');

interface Envelope {
  success: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  error?: any;
}

interface ServiceStatus {
  service: string;
  state: string;
  since: string;
  lastError: string | null;
  instances: Array<{ instance: string; state: string; since: string; version: string; lastError: string | null }>;
}

const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> =>
  eventually(what, probe, { timeoutMs, intervalMs: 250 });

describe('monitoring: heartbeats, status, alerts, Prometheus and dashboards', () => {
  let platform: Platform;
  let smtp: LocalSmtpServer;
  let adminKey: string;
  const asAdmin = (): RequestInit => ({ headers: { 'X-API-Key': adminKey } });
  let nc: NatsConnection;
  let fixtureDir: string;
  const alerts: AlertV1[] = [];

  const monitoringUrl = (path: string): string => `${platform.service('monitoring').baseUrl}${path}`;
  const status = async (): Promise<{ state: string; services: ServiceStatus[] }> => {
    const res = await fetch(monitoringUrl('/api/v1/status'));
    const body = (await res.json()) as Envelope;
    expect(res.status).toBe(200);
    return body.data;
  };

  beforeAll(async () => {
    fixtureDir = mkdtempSync(join(tmpdir(), 'sovren-monitoring-it-'));
    const nvidiaSmi = join(fixtureDir, 'nvidia-smi');
    writeFileSync(nvidiaSmi, `#!/bin/sh\ncat <<'EOF'\n${NVIDIA_SMI_OUTPUT}\nEOF\n`);
    chmodSync(nvidiaSmi, 0o755);
    smtp = await startSmtpServer();
    platform = await Platform.start({
      env: {
        SOVREN_MAIL_HOST: '127.0.0.1',
        SOVREN_MAIL_PORT: String(smtp.port),
        SOVREN_MAIL_FROM: 'monitoring@sovren.test',
        SOVREN_ALERT_RECIPIENTS: RECIPIENTS.join(','),
        // NVML is never found (even on a GPU host), so the nvidia-smi fallback below is what runs.
        SOVREN_NVML_LIBRARY: '/no/such/dir/libnvidia-ml.so.1',
        SOVREN_NVIDIA_SMI_PATH: nvidiaSmi,
        // The status API is public but rate limited per IP; this suite polls it far more than 100 times an hour.
        SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '1000000',
      },
    });
    adminKey = seedAuthUser(platform.root, { role: 'admin', scopes: ['monitoring:read'], label: 'e2e' }).apiKey;
    nc = await connect({ servers: platform.nats.url });
    const codec = JSONCodec<AlertV1>();
    const sub = nc.subscribe(MONITORING_ALERT);
    void (async () => {
      for await (const msg of sub) alerts.push(codec.decode(msg.data));
    })();
  });

  afterAll(async () => {
    await nc?.drain();
    await platform?.stop();
    await smtp?.close();
    if (fixtureDir) rmSync(fixtureDir, { recursive: true, force: true });
  });

  it('shows every service and its instance up in GET /api/v1/status', async () => {
    const all = await waitFor('every service up', 30_000, async () => {
      const s = await status();
      return s.state === 'up' && SERVICES.every((n) => s.services.find((x) => x.service === n)?.state === 'up')
        ? s
        : undefined;
    });
    for (const name of SERVICES) {
      const service = all.services.find((x) => x.service === name)!;
      expect(service.instances).toHaveLength(1);
      expect(service.instances[0]).toMatchObject({ state: 'up', lastError: null });
      expect(service.instances[0].instance).toMatch(/^.+:\d+$/);
      expect(Number.isNaN(Date.parse(service.since))).toBe(false);
    }
  });

  it('exports host metrics, and GPU metrics read through nvidia-smi, on monitoring /metrics', async () => {
    const { samples } = parsePrometheusText(await (await fetch(monitoringUrl('/metrics'))).text());
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    expect(value('sovren_host_memory_total_bytes')).toBeGreaterThan(0);
    expect(value('sovren_host_load_average', { window: '1m' })).toBeGreaterThanOrEqual(0);
    const used = value('sovren_host_disk_used_ratio', { path: platform.root });
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(1);
    expect(value('sovren_host_disk_size_bytes', { path: platform.root })).toBeGreaterThan(0);
    expect(value('sovren_gpu_memory_total_bytes', { gpu: '0' })).toBe(81559 * 1024 * 1024);
    expect(value('sovren_gpu_temperature_celsius', { gpu: '1', worker: 'sovren-inference@1' })).toBe(33);
    expect(value('sovren_gpu_utilization_ratio', { gpu: '0' })).toBeCloseTo(0.37);
    expect(value('sovren_gpu_power_watts', { gpu: '0' })).toBeCloseTo(119.85);
    expect(value('sovren_gpu_ecc_uncorrected_errors_total', { gpu: '0' })).toBe(0);
    expect(value('sovren_gpu_ecc_uncorrected_errors_total', { gpu: '1' })).toBeUndefined(); // [N/A]
    await waitFor('service gauges', 10_000, async () => {
      const text = await (await fetch(monitoringUrl('/metrics'))).text();
      return parsePrometheusText(text).samples.filter((s) => s.name === 'sovren_monitoring_service_up' && s.value === 1)
        .length === SERVICES.length
        ? true
        : undefined;
    });
  });

  it('a real Prometheus with deploy/prometheus scrapes every service and finds every target up', async () => {
    const targetsEnv: NodeJS.ProcessEnv = {
      SOVREN_HOST: '127.0.0.1',
      SOVREN_INFERENCE_WORKERS: `0:${platform.service('inference').port}`,
    };
    for (const name of SERVICES) targetsEnv[`SOVREN_${name.toUpperCase()}_PORT`] = String(platform.service(name).port);
    const prometheus = await PrometheusTestServer.start(targetsEnv);
    try {
      const targets = await waitFor('every Prometheus target up', 60_000, async () => {
        const active = await prometheus.activeTargets();
        return active.length === SERVICES.length && active.every((t) => t.health === 'up') ? active : undefined;
      });
      expect(targets.map((t) => t.labels['unit']).sort()).toEqual([
        'sovren-auth.service',
        'sovren-billing.service',
        'sovren-inference@0.service',
        'sovren-monitoring.service',
        'sovren-voice.service',
      ]);
      expect(targets.find((t) => t.labels['unit'] === 'sovren-inference@0.service')?.labels['gpu']).toBe('0');
    } finally {
      await prometheus.stop();
    }
  });

  it('every Grafana dashboard is valid JSON whose every query names a metric the services export', async () => {
    const exported = new Set<string>();
    for (const name of SERVICES) {
      const { samples, types } = parsePrometheusText(
        await (await fetch(`${platform.service(name).baseUrl}/metrics`)).text(),
      );
      for (const sample of samples) exported.add(sample.name);
      for (const [family, type] of types) {
        exported.add(family);
        // A histogram with no observation yet still declares its family; its series names are known.
        if (type === 'histogram')
          for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${family}${suffix}`);
      }
    }
    const dir = join(workspaceRoot, 'deploy/grafana/dashboards');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual([
      'sovren-billing.json',
      'sovren-gpus.json',
      'sovren-inference.json',
      'sovren-platform.json',
      'sovren-voice.json',
    ]);
    const missing: string[] = [];
    let queries = 0;
    for (const file of files) {
      const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        uid: string;
        title: string;
        panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      };
      expect(dashboard.uid).toMatch(/^sovren-/);
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          queries += 1;
          const names = promqlMetricNames(target.expr);
          expect(names.length).toBeGreaterThan(0);
          for (const metric of names) if (!exported.has(metric)) missing.push(`${file} "${panel.title}": ${metric}`);
        }
      }
    }
    expect(queries).toBeGreaterThan(15);
    expect(missing).toEqual([]);
  });

  it('marks a killed service down within 20 s, mails and publishes the alert, keeps it across a monitoring restart, and resolves it after the service restarts', async () => {
    const victim = 'billing';
    const before = await status();
    const instance = before.services.find((s) => s.service === victim)!.instances[0].instance;
    const pid = Number(instance.slice(instance.lastIndexOf(':') + 1));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await platform.service(victim).process.waitForExit();

    const down = await waitFor(`${victim} down`, 20_000, async () => {
      const s = await status();
      const service = s.services.find((x) => x.service === victim)!;
      return service.state === 'down' ? { overall: s.state, service } : undefined;
    });
    const detectedAfterMs = Date.now() - killedAt;
    expect(detectedAfterMs).toBeLessThanOrEqual(20_000);
    expect(down.overall).toBe('down');
    expect(down.service.instances[0]).toMatchObject({ instance, state: 'down' });
    expect(down.service.lastError).toMatch(/no heartbeat/);

    const firing = await waitFor('firing alert on NATS', 10_000, async () =>
      alerts.find((a) => a.rule === 'ServiceDown' && a.service === victim && a.state === 'firing'),
    );
    expect(firing).toMatchObject({ fingerprint: `ServiceDown:${victim}`, severity: 'critical' });
    const firingMail = await smtp.waitFor(
      (m) => /Subject: \[FIRING critical\] SOVREN ServiceDown billing/.test(m.raw),
      15_000,
    );
    expect(firingMail.to.sort()).toEqual([...RECIPIENTS].sort());
    expect(firingMail.from).toBe('monitoring@sovren.test');
    expect(firingMail.raw).toContain('billing is down');
    console.log(`monitoring marked ${victim} down ${detectedAfterMs} ms after SIGKILL`);

    // Monitoring itself restarts while the alert fires: it takes the open alert over from the history
    // instead of firing it a second time.
    await platform.service('monitoring').process.stop();
    await platform.restart('monitoring');

    await platform.restart(victim);
    await waitFor(`${victim} up again`, 30_000, async () => {
      const s = await status();
      const service = s.services.find((x) => x.service === victim)!;
      return service.state === 'up' && s.state === 'up' ? service : undefined;
    });
    const resolved = await waitFor('resolved alert on NATS', 40_000, async () =>
      alerts.find((a) => a.fingerprint === `ServiceDown:${victim}` && a.state === 'resolved'),
    );
    expect(resolved.startsAt).toBe(firing.startsAt);
    expect(Date.parse(resolved.endsAt!)).toBeGreaterThanOrEqual(Date.parse(firing.startsAt));
    expect(alerts.filter((a) => a.fingerprint === `ServiceDown:${victim}` && a.state === 'firing')).toHaveLength(1);
    await smtp.waitFor((m) => /Subject: \[RESOLVED\] SOVREN ServiceDown billing/.test(m.raw), 15_000);

    const history = await waitFor('alert history row resolved', 10_000, async () => {
      const res = await fetch(monitoringUrl('/api/v1/alerts?limit=10'), asAdmin());
      const body = (await res.json()) as Envelope;
      const row = (
        body.data.history as Array<{ fingerprint: string; resolvedAt: string | null; firedAt: string }>
      ).find((r) => r.fingerprint === `ServiceDown:${victim}` && r.resolvedAt !== null);
      return row;
    });
    expect(history.firedAt).toBe(firing.startsAt);
    expect(history.resolvedAt).toBe(resolved.endsAt);
    const rows = ((await (await fetch(monitoringUrl('/api/v1/alerts?limit=100'), asAdmin())).json()) as Envelope).data
      .history as Array<{ fingerprint: string }>;
    expect(rows.filter((r) => r.fingerprint === `ServiceDown:${victim}`)).toHaveLength(1);
  });

  it('shows services degraded, naming the failing dependency, while PostgreSQL refuses them; ReadinessFailing fires and resolves', async () => {
    const admin = new Client({
      connectionString: process.env['SOVREN_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    });
    const database = new URL(platform.database.url).pathname.slice(1);
    expect(database).toMatch(/^sovren_test_it_[0-9a-f]+$/);
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      const degraded = await waitFor('auth degraded', 30_000, async () => {
        const s = await status();
        const auth = s.services.find((x) => x.service === 'auth')!;
        return auth.state === 'degraded' ? { overall: s.state, auth } : undefined;
      });
      expect(degraded.overall).toBe('degraded');
      expect(degraded.auth.instances[0]).toMatchObject({ state: 'degraded', failing: ['postgres'] });
      expect(degraded.auth.lastError).toMatch(/^postgres: /);
      const firing = await waitFor('ReadinessFailing on NATS', 10_000, async () =>
        alerts.find((a) => a.fingerprint === 'ReadinessFailing:auth' && a.state === 'firing'),
      );
      expect(firing.summary).toContain('postgres failing');
    } finally {
      await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    await waitFor('every service up again', 40_000, async () => ((await status()).state === 'up' ? true : undefined));
    await waitFor('ReadinessFailing resolved on NATS', 10_000, async () =>
      alerts.find((a) => a.fingerprint === 'ReadinessFailing:auth' && a.state === 'resolved'),
    );
  });

  it('serves the status to anonymous callers with rate-limit headers, and alert history to admins only', async () => {
    const anonymousStatus = await fetch(monitoringUrl('/api/v1/status'));
    expect(anonymousStatus.status).toBe(200);
    expect(anonymousStatus.headers.get('x-ratelimit-limit')).toBe('1000000');
    expect(Number(anonymousStatus.headers.get('x-ratelimit-remaining'))).toBeLessThan(1000000);

    const anonymous = await fetch(monitoringUrl('/api/v1/alerts'));
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as Envelope).error.code).toBe('UNAUTHORIZED');
    const userKey = seedAuthUser(platform.root, { role: 'user', scopes: ['monitoring:read'], label: 'e2e' }).apiKey;
    const user = await fetch(monitoringUrl('/api/v1/alerts'), { headers: { 'X-API-Key': userKey } });
    expect(user.status).toBe(403);
    expect(((await user.json()) as Envelope).error.message).toMatch(/requires role: admin/);
    const forged = await fetch(monitoringUrl('/api/v1/alerts'), {
      headers: { 'X-API-Key': `${adminKey.slice(0, -4)}AAAA` },
    });
    expect(forged.status).toBe(401);
    const admin = await fetch(monitoringUrl('/api/v1/alerts'), asAdmin());
    expect(admin.status).toBe(200);
    expect(Array.isArray(((await admin.json()) as Envelope).data.history)).toBe(true);
  });

  it('answers a bad alerts query with a 400 error envelope', async () => {
    const res = await fetch(monitoringUrl('/api/v1/alerts?limit=0'), asAdmin());
    expect(res.status).toBe(400);
    const body = (await res.json()) as Envelope;
    expect(body.success).toBe(false);
    expect(body.error.message).toMatch(/limit/);
  });
});
