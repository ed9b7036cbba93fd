// Specifies the dev launcher end to end: it runs tools/dev/start.mjs against real NATS and PostgreSQL
// (the local ones, or ones it starts itself) with stand-in app bundles that serve /health/ready.

import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { eventually, StopWaiting } from '@sovren/testing';

const repoRoot = resolve(__dirname, '..', '..');
const launcher = join(repoRoot, 'tools', 'dev', 'start.mjs');
const SERVICES = ['auth', 'billing', 'voice', 'inference', 'monitoring'];
const adminUrl = process.env.SOVREN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// A stand-in for a built app: listens on its SOVREN_<NAME>_PORT, answers /health/ready, stops on SIGTERM.
// FAIL_APP=<name> makes that one exit at start-up, to exercise the launcher's failure report.
const standInApp = `
const http = require('node:http');
const name = require('node:path').basename(__dirname);
if (process.env.FAIL_APP === name) { console.error(name + ': cannot start, database refused'); process.exit(3); }
const port = Number(process.env['SOVREN_' + name.toUpperCase() + '_PORT']);
const server = http.createServer((req, res) => { res.statusCode = req.url === '/health/ready' ? 200 : 404; res.end(); });
server.listen(port, '127.0.0.1', () => console.log(name + ' ready on ' + port + ' root=' + process.env.SOVREN_ROOT +
  ' nats=' + process.env.SOVREN_NATS_URL + ' natsUser=' + process.env.SOVREN_NATS_USER +
  ' natsPassword=' + (process.env.SOVREN_NATS_PASSWORD ? 'set' : 'unset') + ' db=' + (process.env.SOVREN_DATABASE_URL || '').replace(/:[^:@/]*@/, ':***@')));
process.on('SIGTERM', () => { console.log(name + ' got SIGTERM'); server.close(() => process.exit(0)); });
`;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startLauncher(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; done: Promise<Finished> } {
  const child = spawn(process.execPath, [launcher, ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Finished>((resolvePromise) =>
    child.on('close', (code) => resolvePromise({ code, stdout, stderr })),
  );
  return { child, output: () => stdout, done };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('dev launcher', () => {
  let workDir: string;
  let distDir: string;
  let sovrenRoot: string;

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'sovren-launcher-'));
    distDir = join(workDir, 'dist');
    sovrenRoot = join(workDir, 'root');
    for (const name of SERVICES) {
      mkdirSync(join(distDir, 'apps', name), { recursive: true });
      writeFileSync(join(distDir, 'apps', name, 'main.js'), standInApp);
    }
    writeFileSync(join(distDir, 'package.json'), '{"type":"commonjs"}');
  });

  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  const baseArgs = () => ['--no-build', '--no-migrate', '--dist', distDir];
  // Nothing listens on port 1: the launcher must start its own NATS and (embedded, kept in sovrenRoot) PostgreSQL,
  // which also keeps these specs away from the shared local `sovren` database.
  const unreachableServers = {
    SOVREN_NATS_URL: 'nats://127.0.0.1:1',
    SOVREN_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/sovren',
  };

  it('starts its own nats-server and embedded PostgreSQL when none is reachable, then stops them', async () => {
    const run = startLauncher([...baseArgs(), '--exit-when-ready'], { SOVREN_ROOT: sovrenRoot, ...unreachableServers });
    const result = await run.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('starting a local nats-server with JetStream');
    expect(result.stdout).toContain('started embedded PostgreSQL');
    expect(result.stdout).toMatch(
      /auth +http:\/\/127\.0\.0\.1:\d+ +http:\/\/127\.0\.0\.1:\d+\/health\/ready +http:\/\/127\.0\.0\.1:\d+\/metrics/,
    );
    expect(result.stdout).toContain('[sovren] all stopped');
    const natsPid = Number(/started nats-server \(pid (\d+)\)/.exec(result.stdout)?.[1]);
    expect(isAlive(natsPid)).toBe(false);
    const authLog = readFileSync(join(sovrenRoot, 'logs', 'auth.log'), 'utf8');
    expect(authLog).toContain(`root=${sovrenRoot}`);
    expect(authLog).toMatch(
      /nats=nats:\/\/127\.0\.0\.1:\d+ natsUser=auth natsPassword=set db=postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/sovren/,
    );
    expect(authLog).toContain('auth got SIGTERM');
    // The nats-server it starts has the generated users and permissions (tools/nats); each app gets its own user.
    for (const name of SERVICES) {
      expect(readFileSync(join(sovrenRoot, 'logs', `${name}.log`), 'utf8')).toContain(
        `natsUser=${name} natsPassword=set`,
      );
    }
    // Kept for `nx serve <app>` against this server: SOVREN_ROOT/nats-credentials/<service>.env, owner-only.
    expect(statSync(join(sovrenRoot, 'nats-credentials', 'auth.env')).mode & 0o777).toBe(0o600);
    const configFile = join(sovrenRoot, 'nats-server.conf');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const config = readFileSync(configFile, 'utf8');
    for (const name of SERVICES) expect(config).toContain(`"user": "${name}"`);
    expect(config).toContain('"allow_responses"');
  });

  it('uses reachable NATS and PostgreSQL, creates the database, and moves a taken port', async () => {
    const database = `sovren_test_${randomBytes(4).toString('hex')}`;
    const databaseUrl = new URL(adminUrl);
    databaseUrl.pathname = `/${database}`;
    try {
      const run = startLauncher([...baseArgs(), '--exit-when-ready'], {
        SOVREN_ROOT: sovrenRoot,
        SOVREN_NATS_URL: 'nats://127.0.0.1:4222',
        SOVREN_DATABASE_URL: databaseUrl.toString(),
        // 4222 is NATS's own port, so auth cannot have it.
        SOVREN_AUTH_PORT: '4222',
      });
      const result = await run.done;
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('using NATS at nats://127.0.0.1:4222');
      expect(result.stdout).toContain(`(created database ${database})`);
      expect(result.stdout).toMatch(/port 4222 for auth is taken; using \d+ instead/);
    } finally {
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
      await admin.end();
    }
  });

  it('stops every app and the servers it started on SIGTERM and exits 0', async () => {
    const run = startLauncher(baseArgs(), { SOVREN_ROOT: sovrenRoot, ...unreachableServers });
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setInterval(() => {
        if (run.output().includes('press Ctrl-C')) {
          clearInterval(timer);
          resolvePromise();
        } else if (run.child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`launcher exited early:\n${run.output()}`));
        }
      }, 200);
    });
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('stopping (SIGTERM)');
    expect(result.stdout).toContain('nats-server: exited');
    expect(readFileSync(join(sovrenRoot, 'logs', 'monitoring.log'), 'utf8')).toContain('monitoring got SIGTERM');
  });

  it('fails with the log tail of an app that cannot start, and stops the others', async () => {
    const run = startLauncher([...baseArgs(), '--exit-when-ready'], {
      SOVREN_ROOT: sovrenRoot,
      ...unreachableServers,
      FAIL_APP: 'voice',
    });
    const result = await run.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('voice is not ready: exited (code 3');
    expect(result.stderr).toContain('voice: cannot start, database refused');
    expect(result.stderr).toContain('not ready: voice');
    expect(result.stdout).toContain('auth: stopped');
  });

  it('refuses a second platform on the same data root, naming the running one, and exits 1', async () => {
    const first = startLauncher(baseArgs(), { SOVREN_ROOT: sovrenRoot, ...unreachableServers });
    try {
      await eventually(
        'the first launcher to be running',
        () => {
          if (first.child.exitCode !== null) throw new StopWaiting(`first launcher exited:\n${first.output()}`);
          return first.output().includes('press Ctrl-C');
        },
        { timeoutMs: 120_000, intervalMs: 200, detail: first.output },
      );
      const lock = JSON.parse(readFileSync(join(sovrenRoot, 'platform.lock'), 'utf8'));
      expect(lock).toMatchObject({ pid: first.child.pid, nats: { url: expect.stringMatching(/^nats:/), users: true } });
      const second = await startLauncher([...baseArgs(), '--exit-when-ready'], {
        SOVREN_ROOT: sovrenRoot,
        ...unreachableServers,
      }).done;
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(
        `already running on ${sovrenRoot} (pid ${first.child.pid}, auth ${lock.services.auth},`,
      );
      // The refused launcher started nothing and left the running platform's lock alone.
      expect(second.stdout).not.toContain('NATS');
      expect(JSON.parse(readFileSync(join(sovrenRoot, 'platform.lock'), 'utf8')).pid).toBe(first.child.pid);
    } finally {
      first.child.kill('SIGTERM');
      await first.done;
    }
    expect(existsSync(join(sovrenRoot, 'platform.lock'))).toBe(false);
  });

  it('takes over the lock of a launcher that died without removing it', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolvePromise) => dead.on('close', resolvePromise));
    writeFileSync(join(sovrenRoot, 'platform.lock'), JSON.stringify({ pid: dead.pid, services: { auth: 1 } }));
    const result = await startLauncher([...baseArgs(), '--exit-when-ready'], {
      SOVREN_ROOT: sovrenRoot,
      ...unreachableServers,
    }).done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`taking over the stale lock of pid ${dead.pid} (no longer running)`);
    expect(existsSync(join(sovrenRoot, 'platform.lock'))).toBe(false);
  });

  it('rejects an unknown option with a clear message', async () => {
    const result = await startLauncher(['--frobnicate'], {}).done;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--frobnicate'");
  });
});
