// The first minute of a new user, end to end: a fresh data root, `npm start` in development (the real launcher,
// its own nats-server with one user per service and the cli user, the built services), then the API key and
// model it prints answer a chat completion through the official OpenAI SDK; the `sovren` CLI works against the
// running platform and refuses an account without local access; a second `npm start` on the root refuses.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai'; // sovereignty-lint-allow: the official SDK as users run it, against our local inference

import {
  createThrowawayDatabase,
  eventually,
  freePort,
  OwnedProcess,
  StopWaiting,
  type ThrowawayPostgres,
} from '@sovren/testing';

const workspaceRoot = resolve(__dirname, '../../..');
const launcherScript = join(workspaceRoot, 'tools/dev/start.mjs');
const cliBundle = join(workspaceRoot, 'dist/tools/cli/main.js');
const SERVICES = ['auth', 'billing', 'voice', 'inference', 'monitoring'];
const NOBODY = 65534;

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('first run: npm start, the printed key and model, the sovren CLI', () => {
  let root: string;
  let database: ThrowawayPostgres;
  let launcher: OwnedProcess;
  let env: NodeJS.ProcessEnv;
  let apiKey: string;
  let model: string;
  let inferenceUrl: string;

  /** Runs the built CLI (as `uid` when given: another local account), resolving its exit code and output. */
  function sovren(args: string[], options: { uid?: number } = {}): Promise<CliRun> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [cliBundle, ...args], {
        env: { PATH: process.env['PATH'], SOVREN_ROOT: root },
        cwd: '/',
        ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    });
  }

  const printed = (pattern: RegExp): string | undefined => {
    for (const line of launcher.lines) {
      const match = pattern.exec(line);
      if (match) return match[1];
    }
    return undefined;
  };

  beforeAll(async () => {
    for (const name of [...SERVICES.map((s) => `dist/apps/${s}/main.js`), 'dist/tools/cli/main.js']) {
      if (!existsSync(join(workspaceRoot, name))) throw new Error(`${name} is missing: build it first (nx build)`);
    }
    root = mkdtempSync(join(tmpdir(), 'sovren-first-run-'));
    // Like /data/sovren: others may enter the root, only its owner reads the credentials inside.
    chmodSync(root, 0o755);
    database = await createThrowawayDatabase({ label: 'first_run' });
    env = {
      ...process.env,
      NODE_ENV: 'development',
      SOVREN_ROOT: root,
      // Nothing listens there: the launcher starts its own nats-server, with one user per service and the cli user.
      SOVREN_NATS_URL: `nats://127.0.0.1:${await freePort()}`,
      SOVREN_DATABASE_URL: database.url,
      SOVREN_LOG_LEVEL: 'info',
    };
    for (const name of SERVICES) env[`SOVREN_${name.toUpperCase()}_PORT`] = String(await freePort());
    launcher = new OwnedProcess('npm start', process.execPath, [launcherScript, '--no-build', '--no-migrate'], env, {
      cwd: workspaceRoot,
    });
    await eventually(
      'npm start to print the development API key and how to call the first model',
      () => {
        if (!launcher.running)
          throw new StopWaiting(`the launcher exited (${JSON.stringify(launcher.exit)})\n${launcher.tail(60)}`);
        return printed(/^(curl -N .*)$/) !== undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500, detail: () => launcher.tail(60) },
    );
    apiKey = printed(/^SOVREN_API_KEY=(sov_\S+)$/) ?? '';
    model = printed(/"model":"([^"]+)"/) ?? '';
    inferenceUrl = printed(/^curl -N (http:\/\/[^/]+)\/v1\/chat\/completions/) ?? '';
  }, 300_000);

  afterAll(async () => {
    const stopped = await launcher?.stop(60_000);
    await database?.drop();
    if (root) rmSync(root, { recursive: true, force: true });
    if (stopped?.forced) throw new Error(`the launcher had to be killed\n${launcher.tail(40)}`);
  }, 90_000);

  it('wrote the demo model with random weights, said so, and printed a key and the curl and SDK lines', () => {
    expect(existsSync(join(root, 'models/llms/demo-random-weights.gguf'))).toBe(true);
    expect(launcher.lines.join('\n')).toMatch(/demo-random-weights\.gguf, a small model with RANDOM weights/);
    expect(apiKey).toMatch(/^sov_/);
    expect(model).toBe('demo-random-weights');
    expect(inferenceUrl).toBe(`http://127.0.0.1:${env['SOVREN_INFERENCE_PORT']}`);
    const sdkLine = /^(node --input-type=module -e "import OpenAI from 'openai';.*)$/; // sovereignty-lint-allow: the printed SDK line
    expect(printed(sdkLine)).toContain(apiKey);
  });

  it('answers a chat completion with the printed key and model through the official OpenAI SDK', async () => {
    const client = new OpenAI({ baseURL: `${inferenceUrl}/v1`, apiKey, maxRetries: 0 });
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain(model);
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hello!' }],
      max_tokens: 8,
    });
    expect(completion.choices[0].message.role).toBe('assistant');
    expect(completion.usage?.completion_tokens).toBe(8);
    // Streamed, as the printed lines do it.
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Hello again!' }],
      max_tokens: 8,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  it('sovren status shows every service up, from monitoring', async () => {
    const status = await eventually(
      'every service to be up in sovren status',
      async () => {
        const run = await sovren(['status', '--json']);
        if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stdout}${run.stderr}`);
        return JSON.parse(run.stdout) as { state: string; services: Array<{ service: string; state: string }> };
      },
      { timeoutMs: 90_000, intervalMs: 2_000 },
    );
    expect(status.state).toBe('up');
    expect(status.services.map((s) => s.service).sort()).toEqual([...SERVICES].sort());
    const table = await sovren(['status']);
    expect(table.stdout).toMatch(/^SERVICE +STATE +INSTANCES/m);
    // Not a terminal: no colour codes.
    expect(table.stdout).not.toContain('\u001b[');
  });

  it('sovren keys create mints a key for the admin, which then calls the models', async () => {
    const run = await sovren([
      'keys',
      'create',
      '--user',
      'admin@localhost',
      '--scopes',
      'inference:generate',
      '--name',
      'e2e',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as { key: string; apiKey: { scopes: string[]; userId: string } };
    expect(created.apiKey.scopes).toEqual(['inference:generate']);
    const client = new OpenAI({ baseURL: `${inferenceUrl}/v1`, apiKey: created.key, maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toContain(model);
    const listed = await sovren(['keys', 'list', '--user', 'admin@localhost', '--json']);
    expect(JSON.parse(listed.stdout).keys).toHaveLength(2);
  });

  it('sovren models list shows the demo model; load and unload change its state', async () => {
    const list = await sovren(['models', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).models).toContainEqual(expect.objectContaining({ id: model }));
    const unload = await sovren(['models', 'unload', model, '--json']);
    expect(JSON.parse(unload.stdout)).toMatchObject({ model: { id: model, state: 'unloaded' } });
    const load = await sovren(['models', 'load', model, '--json']);
    expect(load.code).toBe(0);
    expect(JSON.parse(load.stdout)).toMatchObject({ model: { id: model, state: 'loaded' } });
  });

  it('refuses an account without local access: it cannot read the cli credentials', async () => {
    let run: CliRun;
    if (process.getuid?.() === 0) {
      run = await sovren(['keys', 'create', '--user', 'admin@localhost'], { uid: NOBODY });
    } else {
      chmodSync(join(root, 'nats-credentials/cli.env'), 0o000);
      try {
        run = await sovren(['keys', 'create', '--user', 'admin@localhost']);
      } finally {
        chmodSync(join(root, 'nats-credentials/cli.env'), 0o600);
      }
    }
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`no local access: this account cannot read ${join(root, 'nats-credentials/cli.env')}`);
    expect(run.stdout).not.toMatch(/sov_/);
  });

  it('a second npm start on the same data root says it is already running and exits 1', async () => {
    const second = new OwnedProcess('second npm start', process.execPath, [launcherScript, '--no-build'], env, {
      cwd: workspaceRoot,
    });
    await second.waitForExit();
    expect(second.exit?.code).toBe(1);
    const lock = JSON.parse(readFileSync(join(root, 'platform.lock'), 'utf8')) as { pid: number };
    expect(second.lines.join('\n')).toContain(
      `already running on ${root} (pid ${lock.pid}, auth ${env['SOVREN_AUTH_PORT']}, billing ${env['SOVREN_BILLING_PORT']}`,
    );
    expect(launcher.running).toBe(true);
  });
});
