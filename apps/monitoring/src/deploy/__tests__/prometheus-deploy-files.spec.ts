// deploy/prometheus must pass Debian's promtool (what operators' Prometheus runs): config, rules, and the
// targets install.sh writes. Installs the `prometheus` package when promtool is missing and we are root.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { ALERT_RULES } from '../../app/alerts/alert-rules';

const workspaceRoot = resolve(__dirname, '../../../../..');
const promDir = join(workspaceRoot, 'deploy/prometheus');

function promtool(): string {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  if (found.status === 0) return found.stdout.trim();
  if (process.getuid?.() === 0) {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'prometheus'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return 'promtool';
  }
  throw new Error("promtool is missing: install Debian's prometheus package (sudo apt-get install -y prometheus)");
}

describe('deploy/prometheus', () => {
  let dir: string;
  let tool: string;

  beforeAll(() => {
    tool = promtool();
    dir = mkdtempSync(join(tmpdir(), 'sovren-promtool-'));
    cpSync(promDir, dir, { recursive: true });
    execFileSync('bash', [join(dir, 'write-targets.sh'), join(dir, 'targets')], {
      env: {
        PATH: process.env['PATH'],
        SOVREN_HOST: '0.0.0.0',
        SOVREN_AUTH_PORT: '4101',
        SOVREN_INFERENCE_WORKERS: '0:3104 1:3204',
      },
    });
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes promtool check config (with the targets install.sh writes)', () => {
    const result = spawnSync(tool, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.stderr).not.toMatch(/WARNING|FAILED/);
    expect(result.status).toBe(0);
  });

  it('passes promtool check rules on every rule file', () => {
    const files = readdirSync(join(dir, 'rules')).filter((f) => f.endsWith('.yml'));
    expect(files.sort()).toEqual(['sovren-alerts.yml', 'sovren-recording.yml']);
    const result = spawnSync(tool, ['check', 'rules', ...files.map((f) => join(dir, 'rules', f))], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    expect(result.stdout).not.toMatch(/FAILED/);
  });

  it('passes promtool test rules: each alert fires on the series it is meant for, and only then', () => {
    const result = spawnSync(tool, ['test', 'rules', 'tests/sovren-alerts.test.yml'], { cwd: dir, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('mirrors every alert rule monitoring evaluates, one for one', () => {
    const text = readFileSync(join(dir, 'rules/sovren-alerts.yml'), 'utf8');
    const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]).sort();
    expect(alerts).toEqual([...ALERT_RULES].sort());
  });

  it('writes one target per service unit and one per inference GPU worker, never a wildcard address', () => {
    const services = JSON.parse(readFileSync(join(dir, 'targets/services.json'), 'utf8'));
    expect(services).toEqual([
      { targets: ['127.0.0.1:4101'], labels: { unit: 'sovren-auth.service' } },
      { targets: ['127.0.0.1:3102'], labels: { unit: 'sovren-billing.service' } },
      { targets: ['127.0.0.1:3103'], labels: { unit: 'sovren-voice.service' } },
      { targets: ['127.0.0.1:3105'], labels: { unit: 'sovren-monitoring.service' } },
    ]);
    const workers = JSON.parse(readFileSync(join(dir, 'targets/inference-gpus.json'), 'utf8'));
    expect(workers).toEqual([
      { targets: ['127.0.0.1:3104'], labels: { unit: 'sovren-inference@0.service', gpu: '0' } },
      { targets: ['127.0.0.1:3204'], labels: { unit: 'sovren-inference@1.service', gpu: '1' } },
    ]);
  });

  it('refuses a bad port or worker entry, naming it', () => {
    const out = join(dir, 'bad');
    const bad = spawnSync('bash', [join(dir, 'write-targets.sh'), out], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], SOVREN_INFERENCE_WORKERS: 'gpu0' },
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("bad inference worker 'gpu0'");
  });
});
