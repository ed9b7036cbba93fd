// bench-auth-validate: latency and throughput of `auth.validate` over NATS, the call every guarded request of
// every service makes. Boots the real auth module in a child process (throwaway PostgreSQL database, temp
// SQLite root, private nats-server), seeds a user with a session and an API key, then runs C concurrent callers
// through NatsClient — exactly what @sovren/auth-guard does on a cache miss — and prints p50/p90/p99/max and
// requests per second for each credential kind. Goal: p99 < 2 ms at 50 concurrent callers.
//
// Two modes per kind. Closed loop (callers send back to back) finds the saturation throughput X; by Little's law
// its mean latency is 50/X, so on a 2-core box where client, nats-server and auth share the cores it measures
// queueing, not auth. Open loop (the callers together offer a fixed rate, latency counted from the scheduled send
// time) is how services really call auth, and is where the latency goal applies.
//
// Usage (repo root; needs PostgreSQL at SOVREN_TEST_DATABASE_URL or postgres@127.0.0.1:5432, and nats-server):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/auth/bench-auth-validate.ts [--concurrency 50] [--requests 20000] [--warmup 2000] \
//     [--rates 2000,5000,10000]
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

import {
  AUTH_VALIDATE,
  AuthValidateReplyV1,
  AuthValidateRequestV1,
  NatsClient,
  parseAuthValidateReplyV1,
} from '@sovren/messaging';
import { createThrowawayDatabase, NatsTestServer } from '@sovren/testing';

const READY = 'BENCH_READY ';

interface Seeded {
  apiKey: string;
  accessToken: string;
  /** HTTP port of the auth child (its /metrics holds the server-side validation histogram). */
  port: number;
}

/** Child process: the auth module, seeded, answering auth.validate until SIGTERM. */
async function serve(): Promise<void> {
  const { NestFactory } = await import('@nestjs/core');
  const database = await createThrowawayDatabase({ label: 'bench' });
  const root = mkdtempSync(join(tmpdir(), 'sovren-bench-auth-'));
  Object.assign(process.env, {
    NODE_ENV: 'production',
    SOVREN_LOG_LEVEL: 'error',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR: '10000000',
    SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '10000000',
  });
  const { AuthModule } = await import('../../../apps/auth/src/app/auth.module');
  const { UsersRepository } = await import('../../../apps/auth/src/app/users/users.repository');
  const { SessionService } = await import('../../../apps/auth/src/app/sessions/session.service');
  const { ApiKeyService } = await import('../../../apps/auth/src/app/api-keys/api-key.service');
  const app = await NestFactory.create(AuthModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  const user = app.get(UsersRepository).create({ email: null, displayName: 'Bench' });
  const session = app.get(SessionService).create(user.id, { deviceId: 'bench' });
  const key = app.get(ApiKeyService).create({ userId: user.id, role: 'user' }, { name: 'bench', scopes: ['bench:run'] });
  const address = app.getHttpServer().address() as { port: number };
  const seeded: Seeded = { apiKey: key.key, accessToken: session.accessToken, port: address.port };
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  process.stdout.write(`${READY}${JSON.stringify(seeded)}\n`);
  const stop = async () => {
    loopDelay.disable();
    process.stderr.write(`${describeLoopDelay('auth  ', loopDelay)} (whole run, warmup included)\n`);
    await app.close();
    rmSync(root, { recursive: true, force: true });
    await database.drop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

/** Event-loop delay: how long ready callbacks (replies, timers) waited for the process's one JS thread. */
function describeLoopDelay(who: string, histogram: IntervalHistogram): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  return `event-loop delay ${who} p50 ${ms(histogram.percentile(50))} p99 ${ms(histogram.percentile(99))} max ${ms(histogram.max)} ms`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function printRow(
  label: string,
  mode: string,
  latencies: Float64Array,
  seconds: number,
  failures: number,
  note = '',
): void {
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const f = (ms: number) => ms.toFixed(3).padStart(8);
  process.stdout.write(
    `${label.padEnd(10)} ${mode.padEnd(12)} ${String(latencies.length).padStart(7)} ${f(percentile(sorted, 50))} ${f(
      percentile(sorted, 90),
    )} ${f(percentile(sorted, 99))} ${f(sorted[sorted.length - 1])} ${(latencies.length / seconds).toFixed(0).padStart(9)}${
      failures > 0 ? `  (${failures} not ok!)` : ''
    }${note}\n`,
  );
}

function validate(client: NatsClient, request: AuthValidateRequestV1): Promise<AuthValidateReplyV1> {
  return client.request<AuthValidateRequestV1, AuthValidateReplyV1>(AUTH_VALIDATE, request, {
    parse: parseAuthValidateReplyV1,
  });
}

/**
 * Open loop: `concurrency` callers together offer `rate` requests/s on a fixed schedule, whatever the replies do.
 * A caller whose previous reply came back after its next request was due is charged from the due time (a slow
 * auth delays every request behind it: no coordinated omission). Otherwise the request is timed from when it was
 * actually sent: Node's timers fire up to ~1 ms late, and that lateness is the load generator's, not auth's — it is
 * printed separately ("late") so the two never mix.
 */
async function runOpenLoop(
  client: NatsClient,
  label: string,
  request: AuthValidateRequestV1,
  total: number,
  concurrency: number,
  rate: number,
): Promise<void> {
  const latencies = new Float64Array(total);
  const lateness = new Float64Array(total);
  const intervalNs = BigInt(Math.round((1e9 * concurrency) / rate));
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, caller) => {
      // Callers are spread evenly over one interval so the offered load is smooth.
      let due = started + (intervalNs * BigInt(caller)) / BigInt(concurrency);
      for (let index = caller; index < total; index += concurrency) {
        const blockedByAuth = process.hrtime.bigint() > due; // the previous reply came after this request was due
        const waitMs = Number(due - process.hrtime.bigint()) / 1e6;
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        const sent = process.hrtime.bigint();
        const reply = await validate(client, request);
        latencies[index] = Number(process.hrtime.bigint() - (blockedByAuth ? due : sent)) / 1e6;
        lateness[index] = blockedByAuth ? 0 : Math.max(0, Number(sent - due) / 1e6);
        if (reply.result !== 'ok' || !reply.rateLimit.allowed) failures += 1;
        due += intervalNs;
      }
    }),
  );
  const late = Array.from(lateness).sort((a, b) => a - b);
  printRow(label, `open ${rate}/s`, latencies, Number(process.hrtime.bigint() - started) / 1e9, failures,
    `  late p50 ${percentile(late, 50).toFixed(2)} p99 ${percentile(late, 99).toFixed(2)} ms`);
}

/** Closed loop: `concurrency` callers, each sending its next request as soon as the previous reply arrives. */
async function run(client: NatsClient, label: string, request: AuthValidateRequestV1, total: number, concurrency: number): Promise<void> {
  const latencies = new Float64Array(total);
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++;
        const t0 = process.hrtime.bigint();
        const reply = await validate(client, request);
        latencies[index] = Number(process.hrtime.bigint() - t0) / 1e6;
        if (reply.result !== 'ok' || !reply.rateLimit.allowed) failures += 1;
      }
    }),
  );
  printRow(label, 'closed', latencies, Number(process.hrtime.bigint() - started) / 1e9, failures);
}

/** Mean time auth itself spent per validation (store lookups + rate-limit decision), from its own histogram. */
async function printServerSide(port: number): Promise<void> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  process.stdout.write('\nserver side (sovren_auth_validation_duration_seconds, warmup included):\n');
  for (const kind of ['api_key', 'session', 'anonymous']) {
    const value = (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*kind="${kind}"[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
    const sum = value('sovren_auth_validation_duration_seconds_sum');
    const count = value('sovren_auth_validation_duration_seconds_count');
    process.stdout.write(`${kind.padEnd(10)} mean ${((sum / count) * 1e6).toFixed(1)} µs over ${count} validations\n`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const index = args.indexOf(`--${name}`);
    return index >= 0 ? Number(args[index + 1]) : fallback;
  };
  const concurrency = option('concurrency', 50);
  const requests = option('requests', 20_000);
  const warmup = option('warmup', 2_000);
  const rates = (args.includes('--rates') ? args[args.indexOf('--rates') + 1] : '2000,5000,10000')
    .split(',')
    .map(Number)
    .filter((rate) => rate > 0);

  const nats = await NatsTestServer.start({ jetstream: true });
  let child: ChildProcess | undefined;
  const client = new NatsClient({ servers: nats.url, name: 'bench-auth', requestTimeoutMs: 5_000 });
  try {
    child = spawn(process.execPath, [...process.execArgv, __filename, '--serve'], {
      env: { ...process.env, SOVREN_NATS_URL: nats.url },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const seeded = await new Promise<Seeded>((resolve, reject) => {
      const lines = createInterface({ input: child?.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (line.startsWith(READY)) resolve(JSON.parse(line.slice(READY.length)) as Seeded);
      });
      child?.once('exit', (code) => reject(new Error(`auth child exited early (code ${code})`)));
    });
    await client.connect();
    const kinds: Array<[string, AuthValidateRequestV1]> = [
      ['api_key', { v: 1, credential: seeded.apiKey, clientIp: '10.0.0.1', routeClass: 'bench' }],
      ['session', { v: 1, credential: seeded.accessToken, clientIp: '10.0.0.1', routeClass: 'bench' }],
      ['anonymous', { v: 1, clientIp: '10.0.0.2', routeClass: 'bench' }],
    ];
    for (const [, request] of kinds) await run(client, 'warmup', request, warmup, concurrency);
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    process.stdout.write(`\nauth.validate over NATS (${process.platform}, ${require('node:os').cpus().length} CPUs, Node ${process.version})\n`);
    process.stdout.write(`${concurrency} concurrent callers; closed = back to back (saturation), open = offered load\n`);
    process.stdout.write('kind       mode         requests  p50(ms)  p90(ms)  p99(ms)  max(ms)     req/s\n');
    for (const [label, request] of kinds) {
      await run(client, label, request, requests, concurrency);
      for (const rate of rates) await runOpenLoop(client, label, request, Math.min(requests, rate * 4), concurrency, rate);
    }
    loopDelay.disable();
    await printServerSide(seeded.port);
    process.stdout.write(`\n${describeLoopDelay('callers', loopDelay)} (measured runs)\n`);
  } finally {
    await client.drain();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await nats.dispose();
  }
}

if (process.argv.includes('--serve')) {
  serve().catch((error: unknown) => {
    process.stderr.write(`bench auth child failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
