// bench-sipp-load: N concurrent SIPp calls into the built voice service, as the carrier would place them. The
// service runs as a process, as systemd runs it (dist/apps/voice/main.js; `npx nx build voice`), against a private
// nats-server with JetStream, a throwaway PostgreSQL database and a temp SOVREN_ROOT; the dialled number routes to
// an echo application. SIPp (Debian sip-tester) places every call at once: INVITE+SDP → 200 → ACK → a looped G.711
// tone for --seconds → BYE, while the service echoes it back. Prints: SIPp's verdict and failed calls, the call
// records (state, hangup cause), per call the RTP the service received and sent, inbound loss and its outbound
// pacing error p99 (|send − schedule| of its 20 ms ticks, measured by the service), the service's RSS through the
// run (memory flat?), its CPU, and the box's load. Issue 16's acceptance: 50 calls for 60 s, 0 failed, pacing p99
// < 2 ms, memory flat.
//
// Usage (repo root; PostgreSQL at SOVREN_TEST_DATABASE_URL or postgres@127.0.0.1:5432, nats-server, sipp):
//   npx nx build voice
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/voice/bench-sipp-load.ts [--calls 50] [--seconds 60]
import { muLawEncode } from '@sovren/audio';
import { createThrowawayDatabase, eventually, freePort, NatsTestServer, OwnedProcess } from '@sovren/testing';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

import { BenchArgs } from '../common/bench-args';
import { median, percentile } from '../common/percentile';
import { loopbackSipEnv } from './loopback-sip-env';

const workspaceRoot = resolve(__dirname, '../../..');
const NUMBER = '+15551230000';
const PACING_P99_GOAL_MS = 2;

interface CallRow {
  state: string;
  hangup_cause: string | null;
  rtp_quality: { packetsIn: number; packetsOut: number; lost: number; pacingP99Ms: number } | null;
}

/** Resident memory and CPU time (user + system) of a process, from /proc. */
function sample(pid: number): { rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return { rssMb: rssKb / 1024, cpuSeconds: ticks / 100 };
}

async function main(): Promise<void> {
  const args = new BenchArgs('bench-sipp-load', process.argv.slice(2), { values: ['calls', 'seconds'] });
  const calls = args.int('calls', 50, 1);
  const seconds = args.number('seconds', 60, 1);
  const bundle = join(workspaceRoot, 'dist/apps/voice/main.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npx nx build voice first`);

  const root = mkdtempSync(join(tmpdir(), 'bench-sipp-load-'));
  const nats = await NatsTestServer.start({ jetstream: true });
  const database = await createThrowawayDatabase({ label: 'bench_voice' });
  let voice: OwnedProcess | undefined;
  let pg: Client | undefined;
  try {
    const httpPort = await freePort();
    const sipPort = await freePort();
    voice = new OwnedProcess('voice', process.execPath, [bundle], {
      ...process.env,
      NODE_ENV: 'production',
      SOVREN_ROOT: root,
      SOVREN_NATS_URL: nats.url,
      SOVREN_DATABASE_URL: database.url,
      SOVREN_LOG_LEVEL: 'warn',
      SOVREN_VOICE_PORT: String(httpPort),
      ...loopbackSipEnv(sipPort, calls),
      SOVREN_VOICE_RTP_PORT_MIN: '40000',
      SOVREN_VOICE_RTP_PORT_MAX: '44999',
      SOVREN_SKYETEL_SYNC_MINUTES: '0',
    });
    const service = voice;
    await eventually(
      'the voice service to be ready',
      async () => {
        if (!service.running) throw new Error(`voice exited: ${service.tail(30)}`);
        return (await fetch(`http://127.0.0.1:${httpPort}/health/ready`).catch(() => null))?.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 250, detail: () => service.tail(30) },
    );
    const pid = service.pid;
    if (pid === undefined) throw new Error('the voice process has no pid');

    // The number routes to an echo application, as the numbers API stores it.
    const applicationId = randomUUID();
    const apps = new Database(join(root, 'data', 'applications.db'));
    apps
      .prepare(`INSERT INTO "voice_applications" ("id", "owner_id", "name", "media_app") VALUES (?, ?, ?, 'echo')`)
      .run(applicationId, 'bench-owner', 'bench echo');
    apps.close();
    const numbers = new Database(join(root, 'data', 'phone_numbers.db'));
    numbers
      .prepare(`INSERT INTO "phone_numbers" ("id", "number", "owner_id", "application_id") VALUES (?, ?, ?, ?)`)
      .run(randomUUID(), NUMBER, 'bench-owner', applicationId);
    numbers.close();
    const tone = new Int16Array(8000);
    for (let i = 0; i < tone.length; i += 1) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
    writeFileSync(join(root, 'tone.ulaw'), Buffer.from(muLawEncode(tone)));

    console.log(
      `bench-sipp-load: ${calls} concurrent calls x ${seconds} s into dist/apps/voice (pid ${pid}), echo application; ` +
        `${cpus().length} cores, load ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    const before = sample(pid);
    const rss: Array<{ at: number; mb: number }> = [];
    const started = Date.now();
    const sampler = setInterval(() => {
      try {
        rss.push({ at: (Date.now() - started) / 1000, mb: sample(pid).rssMb });
      } catch (error) {
        console.error(`bench-sipp-load: cannot sample the voice process: ${String(error)}`);
      }
    }, 2000);
    const sipp = new OwnedProcess(
      'sipp',
      'sipp',
      [
        ...['-sf', join(__dirname, 'sipp', 'load-call.xml'), '-i', '127.0.0.1', '-p', '0', '-t', 'u1'],
        ...['-m', String(calls), '-l', String(calls), '-r', String(calls), '-rp', '1000'],
        ...['-d', String(Math.round(seconds * 1000)), '-timeout', `${Math.ceil(seconds) + 60}s`, '-timeout_error'],
        ...['-nostdin', '-trace_err', '-error_file', join(root, 'sipp-errors.log')],
        ...['-s', NUMBER, `127.0.0.1:${sipPort}`],
      ],
      process.env,
      { cwd: root },
    );
    await sipp.waitForExit();
    clearInterval(sampler);
    const after = sample(pid);
    const wall = (Date.now() - started) / 1000;

    pg = new Client({ connectionString: database.url });
    await pg.connect();
    const db = pg;
    const rows = (await db.query<CallRow>('SELECT "state", "hangup_cause", "rtp_quality" FROM "voice_calls"')).rows;
    await eventually('every call record closed', async () => {
      const open = await db.query('SELECT count(*)::int AS n FROM "voice_calls" WHERE "state" <> $1', ['ended']);
      return open.rows[0].n === 0;
    });
    const closed = (await pg.query<CallRow>('SELECT "state", "hangup_cause", "rtp_quality" FROM "voice_calls"')).rows;
    const byCause = new Map<string, number>();
    for (const row of closed)
      byCause.set(row.hangup_cause ?? 'none', (byCause.get(row.hangup_cause ?? 'none') ?? 0) + 1);
    const quality = closed.map((row) => row.rtp_quality).filter((q): q is NonNullable<CallRow['rtp_quality']> => !!q);
    const pacing = quality.map((q) => q.pacingP99Ms);
    const lossIn = quality.map((q) => (q.packetsIn + q.lost > 0 ? q.lost / (q.packetsIn + q.lost) : 0));
    const expectedPackets = (seconds * 1000) / 20;
    const steady = rss.filter((r) => r.at >= Math.min(10, seconds / 3) && r.at <= seconds);

    const output = sipp.lines.join('\n');
    const cumulative = (label: string): string =>
      [...output.matchAll(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g'))].pop()?.[1] ?? '?';
    console.log(
      `sipp: exit ${sipp.exit?.code} (${sipp.exit?.code === 0 ? 'every call succeeded' : 'FAILED calls'}); ` +
        `successful ${cumulative('Successful call')}, failed ${cumulative('Failed call')}`,
    );
    console.log(
      `call records: ${rows.length} rows at SIPp's end, ${closed.length} closed; hangup causes ${JSON.stringify(Object.fromEntries(byCause))}`,
    );
    console.log(
      `RTP per call (expected ~${expectedPackets.toFixed(0)} each way): in p50 ${median(quality.map((q) => q.packetsIn)).toFixed(0)}, ` +
        `out p50 ${median(quality.map((q) => q.packetsOut)).toFixed(0)}; inbound loss max ${(Math.max(0, ...lossIn) * 100).toFixed(3)} %`,
    );
    console.log(
      `pacing p99 per call (ms): median ${median(pacing).toFixed(2)}, p90 over calls ${percentile(pacing, 90).toFixed(2)}, ` +
        `max ${Math.max(0, ...pacing).toFixed(2)}; calls within ${PACING_P99_GOAL_MS} ms: ${pacing.filter((p) => p < PACING_P99_GOAL_MS).length}/${pacing.length}`,
    );
    console.log(
      `voice RSS (MB): before ${before.rssMb.toFixed(1)}, steady ${steady.length ? `${Math.min(...steady.map((r) => r.mb)).toFixed(1)}-${Math.max(...steady.map((r) => r.mb)).toFixed(1)}` : 'n/a'}, ` +
        `after ${after.rssMb.toFixed(1)}; CPU ${(((after.cpuSeconds - before.cpuSeconds) / wall) * 100).toFixed(0)} % of one core over ${wall.toFixed(0)} s; load ${loadavg()[0].toFixed(2)}`,
    );
  } finally {
    await pg?.end();
    await voice?.stop();
    await nats.dispose();
    await database.drop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench-sipp-load: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
