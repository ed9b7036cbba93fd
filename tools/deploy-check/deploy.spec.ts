// Specifies the deploy/ checks: every systemd unit passes `systemd-analyze verify`, a broken unit fails,
// and install.sh parses, passes shellcheck and describes its actions in --dry-run without changing anything.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..', '..');
const verifyScript = join(repoRoot, 'tools', 'deploy-check', 'verify-units.sh');
const installScript = join(repoRoot, 'deploy', 'install.sh');

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: repoRoot });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('deploy units and install script', () => {
  it('verifies every unit, both inference instances and the scripts', () => {
    const result = run('bash', [verifyScript]);
    expect(result.output).toContain('ok   systemd-analyze verify sovren-auth.service');
    expect(result.output).toContain('ok   systemd-analyze verify sovren-inference@7.service');
    expect(result.output).toContain('ok   systemd-analyze verify sovren.target');
    expect(result.output).toContain('ok   shellcheck deploy/install.sh');
    expect(result.status).toBe(0);
  });

  it('fails on a unit with a bad setting', () => {
    const unitsDir = mkdtempSync(join(tmpdir(), 'sovren-units-'));
    try {
      cpSync(join(repoRoot, 'deploy', 'systemd'), unitsDir, { recursive: true });
      const unit = join(unitsDir, 'sovren-voice.service');
      writeFileSync(unit, readFileSync(unit, 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivileges=perhaps'));
      const result = run('bash', [verifyScript, unitsDir]);
      expect(result.output).toContain('FAIL: systemd-analyze verify sovren-voice.service');
      expect(result.status).toBe(1);
    } finally {
      rmSync(unitsDir, { recursive: true, force: true });
    }
  });

  it('gives every service unit the sovren user, its env file and the hardening set', () => {
    for (const name of ['auth', 'billing', 'voice', 'monitoring', 'inference@']) {
      const unit = readFileSync(join(repoRoot, 'deploy', 'systemd', `sovren-${name}.service`), 'utf8');
      for (const setting of [
        'User=sovren',
        'EnvironmentFile=/etc/sovren/sovren.env',
        'Restart=on-failure',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
        'ReadWritePaths=/data/sovren',
        'PrivateTmp=yes',
        'ProtectHome=yes',
        'CapabilityBoundingSet=\n',
      ]) {
        expect(`${name}: ${unit.includes(setting)}`).toBe(`${name}: true`);
      }
      expect(unit).toContain(`EnvironmentFile=/etc/sovren/nats/${name.replace('@', '')}.env\n`);
    }
  });

  // systemd-analyze security scores what a compromised service could still do: 0 is a locked box, 10 no sandbox.
  // Before the sandboxing work the units scored 3.2 (inference 3.9).
  it.each(['auth', 'billing', 'voice', 'monitoring', 'inference@'])(
    'keeps sovren-%s.service at a systemd exposure level of 2.0 or less',
    (name) => {
      const result = run('systemd-analyze', [
        'security',
        '--offline=true',
        '--no-pager',
        join(repoRoot, 'deploy', 'systemd', `sovren-${name}.service`),
      ]);
      const level = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(result.output)?.[1];
      expect(level).toBeDefined();
      expect(Number(level)).toBeLessThanOrEqual(2.0);
    },
  );

  it('lets the inference worker open only the NVIDIA devices, and says why a unit keeps its network open', () => {
    const unitOf = (name: string) =>
      readFileSync(join(repoRoot, 'deploy', 'systemd', `sovren-${name}.service`), 'utf8');
    const devices = [...unitOf('inference@').matchAll(/^DeviceAllow=(\S+)/gm)].map((match) => match[1]);
    expect(devices.length).toBeGreaterThan(0);
    expect(devices.filter((device) => !device.startsWith('/dev/nvidia'))).toEqual([]);
    for (const name of ['inference@', 'monitoring']) expect(unitOf(name)).toMatch(/^IPAddressDeny=any$/m);
    for (const name of ['auth', 'billing', 'voice']) {
      expect(unitOf(name)).not.toMatch(/^IPAddressDeny=/m);
      expect(unitOf(name)).toMatch(/^# No IPAddressDeny=: this service reaches outside hosts/m);
    }
  });

  it('describes an install in --dry-run without needing root or a build', () => {
    const result = run('bash', [installScript, '--dry-run', '--prefix', '/opt/sovren-test']);
    expect(result.output).toContain('[dry-run] install -d -o sovren -g sovren -m 0750 /data/sovren/models/whisper');
    expect(result.output).toContain('[dry-run] write /etc/systemd/system/sovren-inference@.service');
    expect(result.output).toContain('/etc/sovren/inference-gpu0.env');
    // NATS: one user per service from tools/nats, the configuration readable by nats-server alone.
    expect(result.output).toContain(
      '[dry-run] node /opt/sovren-test/tools/nats/generate-nats-config.mjs --config /etc/nats-server.conf ' +
        '--credentials-dir /etc/sovren/nats',
    );
    expect(result.output).toContain('[dry-run] chown nats:nats /etc/nats-server.conf');
    // The operator's CLI: its NATS credentials readable by the sovren user alone, and the wrapper on the PATH.
    expect(result.output).toContain(
      '[dry-run] install -o sovren -g sovren -m 0600 /etc/sovren/nats/cli.env /data/sovren/nats-credentials/cli.env',
    );
    expect(result.output).toContain('[dry-run] write /usr/local/bin/sovren (mode 0755, owner root:root)');
    expect(result.output).not.toMatch(/ufw|iptables|nft /);
    expect(result.status).toBe(0);
  });

  it('rejects an unknown install option with a clear message', () => {
    const result = run('bash', [installScript, '--frobnicate']);
    expect(result.output).toContain("unknown argument '--frobnicate'");
    expect(result.status).toBe(2);
  });
});
