// Specification of the CLI's own decisions (no platform needed): where it looks for the platform, how it reads
// its credentials, how it refuses, and how it turns options into requests. Against a running platform it is
// tested in apps/platform-e2e/src/first-run.integration-spec.ts.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CliError, EXIT } from '../cli-error';
import { buildCreateRequest } from '../commands/keys';
import { runCli } from '../program';
import { CREDENTIALS_FILE, dataRoot, INSTALLED_ROOT, LOCK_FILE, locatePlatform } from '../platform-locator';

describe('the sovren CLI', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sovren-cli-spec-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const writeCredentials = (text = 'SOVREN_NATS_USER=cli\nSOVREN_NATS_PASSWORD=secret\n') => {
    mkdirSync(join(root, 'nats-credentials'), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, CREDENTIALS_FILE), text, { mode: 0o600 });
  };
  const failure = (run: () => unknown): CliError => {
    try {
      run();
    } catch (error) {
      if (error instanceof CliError) return error;
      throw error;
    }
    throw new Error('expected a CliError');
  };

  it('finds the data root in --root, then SOVREN_ROOT, then the installed /data/sovren', () => {
    expect(dataRoot({ root: '/srv/a' }, { SOVREN_ROOT: '/srv/b' })).toBe('/srv/a');
    expect(dataRoot({}, { SOVREN_ROOT: '/srv/b' })).toBe('/srv/b');
    expect(dataRoot({}, {}, '/nowhere/dist/tools/cli')).toBe(INSTALLED_ROOT);
  });

  it("connects as the cli user with the credentials file's user and password, to the running dev platform's NATS", () => {
    writeCredentials();
    writeFileSync(
      join(root, LOCK_FILE),
      JSON.stringify({ pid: process.pid, nats: { url: 'nats://127.0.0.1:4999', users: true } }),
    );
    expect(locatePlatform({ root }, {})).toMatchObject({
      natsUrl: 'nats://127.0.0.1:4999',
      credentials: { user: 'cli', pass: 'secret' },
    });
    expect(locatePlatform({ root, nats: 'nats://10.0.0.1:4222' }, {}).natsUrl).toBe('nats://10.0.0.1:4222');
  });

  it('refuses without the credentials file, naming it, with the no-access exit code', () => {
    mkdirSync(root, { recursive: true });
    const error = failure(() => locatePlatform({ root }, {}));
    expect(error.exitCode).toBe(EXIT.NO_ACCESS);
    expect(error.message).toContain(join(root, CREDENTIALS_FILE));
  });

  (process.getuid?.() === 0 ? it.skip : it)('refuses when the credentials file is not readable by this account', () => {
    writeCredentials();
    chmodSync(join(root, CREDENTIALS_FILE), 0o000);
    const error = failure(() => locatePlatform({ root }, {}));
    expect(error.exitCode).toBe(EXIT.NO_ACCESS);
    expect(error.message).toMatch(/no local access/);
  });

  it('says the platform is not running when the lock names a process that has exited, or the root is missing', () => {
    writeCredentials();
    writeFileSync(join(root, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345 }));
    expect(failure(() => locatePlatform({ root }, {})).exitCode).toBe(EXIT.NOT_RUNNING);
    expect(failure(() => locatePlatform({ root: join(root, 'missing') }, {})).exitCode).toBe(EXIT.NOT_RUNNING);
  });

  it('refuses a credentials file without a user and password', () => {
    writeCredentials('SOVREN_NATS_USER=cli\n');
    expect(failure(() => locatePlatform({ root }, {})).message).toMatch(/SOVREN_NATS_PASSWORD/);
  });

  it('turns keys create options into the admin request: scopes list, premium, expiry, rate', () => {
    expect(
      buildCreateRequest({
        user: 'a@b.test',
        name: 'ci',
        scopes: 'inference:generate, billing:read',
        premium: true,
        expires: '2030-01-31',
        ratePerHour: '100',
      }),
    ).toEqual({
      v: 1,
      user: 'a@b.test',
      name: 'ci',
      scopes: ['inference:generate', 'billing:read'],
      tier: 'premium',
      expiresAt: '2030-01-31T00:00:00.000Z',
      rateLimitPerHour: 100,
    });
    expect(buildCreateRequest({ user: 'u', name: 'n' }).scopes).toEqual(['inference:generate']);
    expect(failure(() => buildCreateRequest({ user: 'u', name: 'n', scopes: ' , ' })).exitCode).toBe(EXIT.USAGE);
    expect(failure(() => buildCreateRequest({ user: 'u', name: 'n', ratePerHour: '0' })).exitCode).toBe(EXIT.USAGE);
    expect(() => buildCreateRequest({ user: 'u', name: 'n', expires: 'someday' })).toThrow(/--expires/);
  });

  it('exits 2 on a usage error and 3 when nothing runs on the data root, with a JSON error for scripts', async () => {
    const written: string[] = [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await runCli(['keys', 'create'])).toBe(EXIT.USAGE);
      expect(written.join('')).toContain("required option '--user <user>' not specified");
      written.length = 0;
      expect(await runCli(['status', '--json', '--root', join(root, 'missing')])).toBe(EXIT.NOT_RUNNING);
      expect(JSON.parse(written[0])).toMatchObject({ error: { code: 'NOT_RUNNING' } });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
