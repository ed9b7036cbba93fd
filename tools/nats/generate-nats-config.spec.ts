// Specifies the NATS configuration generator deploy/install.sh runs: private files, credentials kept on a re-run
// (running services keep working after an upgrade), replaced only on --rotate, and a configuration nats-server
// accepts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const generator = resolve(__dirname, 'generate-nats-config.mjs');
const SERVICES = ['auth', 'billing', 'inference', 'voice', 'monitoring'];

function generate(dir: string, ...extra: string[]) {
  const result = spawnSync(
    process.execPath,
    [generator, '--config', join(dir, 'nats-server.conf'), '--credentials-dir', join(dir, 'nats'), ...extra],
    { encoding: 'utf8' },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const password = (dir: string, service: string) =>
  /^SOVREN_NATS_PASSWORD=(.+)$/m.exec(readFileSync(join(dir, 'nats', `${service}.env`), 'utf8'))?.[1];

describe('generate-nats-config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sovren-nats-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one private credentials file per service and a configuration nats-server accepts', () => {
    expect(generate(dir).status).toBe(0);
    expect(statSync(join(dir, 'nats-server.conf')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nats')).mode & 0o777).toBe(0o700);
    for (const service of SERVICES) {
      const file = join(dir, 'nats', `${service}.env`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toMatch(
        new RegExp(`^SOVREN_NATS_USER=${service}\\nSOVREN_NATS_PASSWORD=\\w{32,}\\n$`),
      );
      expect(readFileSync(join(dir, 'nats-server.conf'), 'utf8')).toContain(`"password": "${password(dir, service)}"`);
    }
    const check = spawnSync('nats-server', ['-c', join(dir, 'nats-server.conf'), '-t'], { encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`).toContain('is valid');
  });

  it('keeps existing credentials on a second run and replaces them with --rotate', () => {
    generate(dir);
    const first = password(dir, 'billing');
    expect(generate(dir).output).toContain(`kept ${join(dir, 'nats', 'billing.env')}`);
    expect(password(dir, 'billing')).toBe(first);
    expect(generate(dir, '--rotate').status).toBe(0);
    expect(password(dir, 'billing')).not.toBe(first);
    expect(readFileSync(join(dir, 'nats-server.conf'), 'utf8')).toContain(`"password": "${password(dir, 'billing')}"`);
  });

  it('refuses to run without its output paths', () => {
    const result = spawnSync(process.execPath, [generator], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--config, --credentials-dir and a port 1-65535 are required');
  });
});
