// bench-auth-validate: latency and throughput of `auth.validate` over NATS, the call every guarded request of
// every service makes. Starts the built auth service (dist/apps/auth/main.js, `npx nx build auth`) as a process, as
// systemd runs it (throwaway PostgreSQL database, temp SQLite root, private nats-server), seeds a user with a
// session and an API key in its SQLite files as auth stores them, then runs C concurrent callers
// through NatsClient — exactly what @sovren/auth-guard does on a cache miss — and prints p50/p90/p99/max and
// requests per second for each credential kind. Goal: p99 < 2 ms at 50 concurrent callers.
//
// Two modes per kind. Closed loop (callers send back to back) finds the saturation throughput X; by Little's law
// its mean latency is 50/X, so on a 2-core box where client, nats-server and auth share the cores it measures
// queueing, not auth. Open loop (the callers together offer a fixed rate, latency counted from the scheduled send
// time) is how services really call auth, and is where the latency goal applies.
//
// The peer, measured in the same run with the same callers and modes: a bare responder process (NatsClient, same
// contract parsing, a fixed reply, no auth work) on the same nats-server. It is the floor NATS request/reply sets on
// this machine; each auth row ends with its p50 and p99 as ratios to the floor's.
//
// Usage (repo root; needs PostgreSQL at SOVREN_TEST_DATABASE_URL or postgres@127.0.0.1:5432, nats-server and the
// auth bundle built by `npx nx build auth`):
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
  parseAuthValidateRequestV1,
} from '@sovren/messaging';
import {
  createThrowawayDatabase,
  eventually,
  freePort,
  NatsTestServer,
  seedAuthUser,
  StopWaiting,
} from '@sovren/testing';

import { BenchArgs } from '../common/bench-args';
import { percentile } from '../common/percentile';
import { startServiceBundle } from '../common/service-bundle';

const READY = 'BENCH_READY ';

interface RunningAuth {
  apiKey: string;
  accessToken: string;
  /** HTTP port of auth (its /metrics holds the server-side validation histogram and event-loop lag). */
  port: number;
  stop(): Promise<void>;
}

/** The built auth service as a process, seeded with a user holding a session and an API key. */
async function startAuth(natsUrl: string): Promise<RunningAuth> {
  const database = await createThrowawayDatabase({ label: 'bench' });
  const root = mkdtempSync(join(tmpdir(), 'sovren-bench-auth-'));
  const port = await freePort();
  const child = startServiceBundle('auth', {
    SOVREN_LOG_LEVEL: 'error',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: natsUrl,
    SOVREN_AUTH_PORT: String(port),
    SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR: '10000000',
    SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '10000000',
  });
  const stop = async (): Promise<void> => {
    await child.stop();
    rmSync(root, { recursive: true, force: true });
    await database.drop();
  };
  try {
    await eventually(
      'auth to be ready',
      async () => {
        if (child.exited) throw new StopWaiting('auth exited during start-up');
        return (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    const { apiKey, accessToken } = seedAuthUser(root, { scopes: ['inference:generate'], label: 'bench' });
    return { apiKey, accessToken, port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

const FLOOR_SUBJECT = 'bench.auth.floor';
const RAW_FLOOR_SUBJECT = 'bench.auth.floor.raw';
const JSON_ENCODER = new TextEncoder();
const JSON_DECODER = new TextDecoder();

/**
 * Child process: the transport floor, no auth work. On FLOOR_SUBJECT through NatsClient (request contract parsed,
 * as auth does); on RAW_FLOOR_SUBJECT through nats.js alone (JSON.parse of the request). Both answer a fixed reply.
 */
async function serveFloor(): Promise<void> {
  const servers = process.env['SOVREN_NATS_URL'];
  if (!servers) throw new Error('SOVREN_NATS_URL is not set (the bench sets it for its children)');
  const client = new NatsClient({ servers, name: 'bench-auth-floor' });
  await client.connect();
  const reply: AuthValidateReplyV1 = {
    v: 1,
    result: 'ok',
    identity: { kind: 'anonymous' },
    tier: 'anonymous',
    scopes: [],
    rateLimit: { allowed: true, limit: 10_000_000, remaining: 9_999_999, reset: Math.ceil(Date.now() / 1000) + 3600 },
  };
  client.respond<AuthValidateRequestV1, AuthValidateReplyV1>(FLOOR_SUBJECT, () => reply, {
    queue: 'auth',
    parse: parseAuthValidateRequestV1,
  });
  const encodedReply = JSON_ENCODER.encode(JSON.stringify(reply));
  client.rawConnection()?.subscribe(RAW_FLOOR_SUBJECT, {
    queue: 'auth',
    callback: (error, msg) => {
      if (error) throw error;
      JSON.parse(JSON_DECODER.decode(msg.data));
      msg.respond(encodedReply);
    },
  });
  process.stdout.write(`${READY}{}\n`);
  process.once('SIGTERM', () => {
    void client.drain().then(() => process.exit(0));
  });
}

/** Event-loop delay: how long ready callbacks (replies, timers) waited for the process's one JS thread. */
function describeLoopDelay(who: string, histogram: IntervalHistogram): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(2);
  return `event-loop delay ${who} p50 ${ms(histogram.percentile(50))} p99 ${ms(histogram.percentile(99))} max ${ms(histogram.max)} ms`;
}

/** Prints one result row; returns its [p50, p99] (ms). */
function printRow(
  label: string,
  mode: string,
  latencies: Float64Array,
  seconds: number,
  failures: number,
  note = '',
): [number, number] {
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const f = (ms: number) => ms.toFixed(3).padStart(8);
  process.stdout.write(
    `${label.padEnd(10)} ${mode.padEnd(12)} ${String(latencies.length).padStart(7)} ${f(percentile(sorted, 50))} ${f(
      percentile(sorted, 90),
    )} ${f(percentile(sorted, 99))} ${f(sorted[sorted.length - 1])} ${(latencies.length / seconds).toFixed(0).padStart(9)}${
      failures > 0 ? `  (${failures} not ok!)` : ''
    }${note}\n`,
  );
  return [percentile(sorted, 50), percentile(sorted, 99)];
}

/** What a row measures: how one call is made, and the floor's [p50, p99] per mode once measured (for the ratio). */
interface Target {
  call: (request: AuthValidateRequestV1) => Promise<AuthValidateReplyV1>;
  floor?: Map<string, [number, number]>;
}

/** Through NatsClient, as @sovren/auth-guard calls auth (JSON codec, reply contract checked). */
function viaNatsClient(client: NatsClient, subject: string): Target['call'] {
  return (request) =>
    client.request<AuthValidateRequestV1, AuthValidateReplyV1>(subject, request, { parse: parseAuthValidateReplyV1 });
}

/** Through nats.js alone (its own request, JSON in and out): what the transport costs without our client's layers. */
function viaNatsJs(client: NatsClient, subject: string): Target['call'] {
  const connection = client.rawConnection();
  if (!connection) throw new Error('the bench client is not connected');
  return async (request) => {
    const msg = await connection.request(subject, JSON_ENCODER.encode(JSON.stringify(request)), { timeout: 5_000 });
    return JSON.parse(JSON_DECODER.decode(msg.data)) as AuthValidateReplyV1;
  };
}

/**
 * Open loop: `concurrency` callers together offer `rate` requests/s on a fixed schedule, whatever the replies do.
 * A caller whose previous reply came back after its next request was due is charged from the due time (a slow
 * auth delays every request behind it: no coordinated omission). Otherwise the request is timed from when it was
 * actually sent: Node's timers fire up to ~1 ms late, and that lateness is the load generator's, not auth's — it is
 * printed separately ("late") so the two never mix.
 */
async function runOpenLoop(
  target: Target,
  label: string,
  request: AuthValidateRequestV1,
  total: number,
  concurrency: number,
  rate: number,
): Promise<[number, number]> {
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
        const reply = await target.call(request);
        latencies[index] = Number(process.hrtime.bigint() - (blockedByAuth ? due : sent)) / 1e6;
        lateness[index] = blockedByAuth ? 0 : Math.max(0, Number(sent - due) / 1e6);
        if (reply.result !== 'ok' || !reply.rateLimit.allowed) failures += 1;
        due += intervalNs;
      }
    }),
  );
  const late = Array.from(lateness).sort((a, b) => a - b);
  const mode = `open ${rate}/s`;
  return printRow(
    label,
    mode,
    latencies,
    Number(process.hrtime.bigint() - started) / 1e9,
    failures,
    `  late p50 ${percentile(late, 50).toFixed(2)} p99 ${percentile(late, 99).toFixed(2)} ms${ratioNote(target, mode, latencies)}`,
  );
}

/** "  vs floor p50 N.NNx p99 N.NNx" once the floor of this mode is known. */
function ratioNote(target: Target, mode: string, latencies: Float64Array): string {
  const floor = target.floor?.get(mode);
  if (floor === undefined) return '';
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const ratio = (p: number) => (percentile(sorted, p) / floor[p === 50 ? 0 : 1]).toFixed(2);
  return `  vs floor p50 ${ratio(50)}x p99 ${ratio(99)}x`;
}

/** Closed loop: `concurrency` callers, each sending its next request as soon as the previous reply arrives. */
async function run(
  target: Target,
  label: string,
  request: AuthValidateRequestV1,
  total: number,
  concurrency: number,
): Promise<[number, number]> {
  const latencies = new Float64Array(total);
  let next = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++;
        const t0 = process.hrtime.bigint();
        const reply = await target.call(request);
        latencies[index] = Number(process.hrtime.bigint() - t0) / 1e6;
        if (reply.result !== 'ok' || !reply.rateLimit.allowed) failures += 1;
      }
    }),
  );
  return printRow(
    label,
    'closed',
    latencies,
    Number(process.hrtime.bigint() - started) / 1e9,
    failures,
    ratioNote(target, 'closed', latencies),
  );
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
  // Node's default metrics (prom-client's event-loop lag), over the whole run, warmup included.
  const lag = (quantile: string) =>
    (
      Number(
        new RegExp(`^nodejs_eventloop_lag_${quantile}_seconds(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ??
          NaN,
      ) * 1e3
    ).toFixed(2);
  process.stdout.write(
    `event-loop delay auth    p50 ${lag('p50')} p99 ${lag('p99')} max ${lag('max')} ms (whole run)\n`,
  );
}

async function main(): Promise<void> {
  const args = new BenchArgs('bench-auth-validate', process.argv.slice(2), {
    values: ['concurrency', 'requests', 'warmup', 'rates'],
  });
  const concurrency = args.int('concurrency', 50, 1);
  const requests = args.int('requests', 20_000, 1);
  const warmup = args.int('warmup', 2_000);
  const rates = args.intList('rates', [2000, 5000, 10000]).filter((rate) => rate > 0);

  const nats = await NatsTestServer.start({ jetstream: true });
  const children: ChildProcess[] = [];
  let auth: RunningAuth | undefined;
  const client = new NatsClient({ servers: nats.url, name: 'bench-auth', requestTimeoutMs: 5_000 });
  try {
    const spawnChild = async <T>(mode: string): Promise<T> => {
      const child = spawn(process.execPath, [...process.execArgv, __filename, mode], {
        env: { ...process.env, SOVREN_NATS_URL: nats.url },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return new Promise<T>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
        lines.on('line', (line) => {
          if (line.startsWith(READY)) resolve(JSON.parse(line.slice(READY.length)) as T);
        });
        child.once('exit', (code) => reject(new Error(`bench child ${mode} exited early (code ${code})`)));
      });
    };
    const [seeded] = await Promise.all([startAuth(nats.url), spawnChild<object>('--serve-floor')]);
    auth = seeded;
    await client.connect();
    const kinds: Array<[string, AuthValidateRequestV1]> = [
      ['api_key', { v: 1, credential: seeded.apiKey, clientIp: '10.0.0.1', routeClass: 'bench' }],
      ['session', { v: 1, credential: seeded.accessToken, clientIp: '10.0.0.1', routeClass: 'bench' }],
      ['anonymous', { v: 1, clientIp: '10.0.0.2', routeClass: 'bench' }],
    ];
    const rawFloor: Target = { call: viaNatsJs(client, RAW_FLOOR_SUBJECT) };
    const floor: Target = { call: viaNatsClient(client, FLOOR_SUBJECT) };
    const validate: Target = { call: viaNatsClient(client, AUTH_VALIDATE), floor: new Map() };
    const floorRequest = kinds[2][1];
    await run(rawFloor, 'warmup', floorRequest, warmup, concurrency);
    await run(floor, 'warmup', floorRequest, warmup, concurrency);
    for (const [, request] of kinds) await run(validate, 'warmup', request, warmup, concurrency);
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    process.stdout.write(
      `\nauth.validate over NATS (${process.platform}, ${require('node:os').cpus().length} CPUs, Node ${process.version})\n`,
    );
    process.stdout.write(
      `${concurrency} concurrent callers; closed = back to back (saturation), open = offered load\n`,
    );
    process.stdout.write(
      'floor = a bare responder on the same nats-server, no auth work: through NatsClient (as auth is\n',
    );
    process.stdout.write(
      'called; the auth rows give their p50 and p99 as ratios to it) and through nats.js alone (nats.js)\n',
    );
    process.stdout.write('kind       mode         requests  p50(ms)  p90(ms)  p99(ms)  max(ms)     req/s\n');
    await run(rawFloor, 'nats.js', floorRequest, requests, concurrency);
    for (const rate of rates)
      await runOpenLoop(rawFloor, 'nats.js', floorRequest, Math.min(requests, rate * 4), concurrency, rate);
    validate.floor?.set('closed', await run(floor, 'floor', floorRequest, requests, concurrency));
    for (const rate of rates) {
      validate.floor?.set(
        `open ${rate}/s`,
        await runOpenLoop(floor, 'floor', floorRequest, Math.min(requests, rate * 4), concurrency, rate),
      );
    }
    for (const [label, request] of kinds) {
      await run(validate, label, request, requests, concurrency);
      for (const rate of rates)
        await runOpenLoop(validate, label, request, Math.min(requests, rate * 4), concurrency, rate);
    }
    loopDelay.disable();
    await printServerSide(seeded.port);
    process.stdout.write(`\n${describeLoopDelay('callers', loopDelay)} (measured runs)\n`);
  } finally {
    await client.drain();
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }),
    );
    await auth?.stop();
    await nats.dispose();
  }
}

if (process.argv.includes('--serve-floor')) {
  serveFloor().catch((error: unknown) => {
    process.stderr.write(`bench floor child failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
