// bench-usage-recording: usage events per second recorded end to end — published on JetStream stream USAGE →
// billing's consumer → PostgreSQL ledger → Kill Bill stand-in (POST /1.0/kb/usages) — with the real billing
// service in a child process (run from source), a private nats-server, a throwaway PostgreSQL database and the
// Kill Bill stand-in from @sovren/killbill. Prints the events/s from the first publish until the stand-in holds
// every event's quantities (checked against the exact expected sums).
//
// Usage (repo root; needs PostgreSQL at SOVREN_TEST_DATABASE_URL or postgres@127.0.0.1:5432, and nats-server):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/billing/bench-usage-recording.ts [--events 20000] [--owners 50]
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { testPlatformConfig } from '@sovren/config/testing';
import { EgressClient } from '@sovren/egress';
import { KillBillClient } from '@sovren/killbill';
import { KillBillStandIn } from '@sovren/killbill/testing';
import { ensureStreams, usageSubject, type UsageEventV1 } from '@sovren/messaging';
import { MetricsService } from '@sovren/observability';
import { createThrowawayDatabase, eventually, freePort, NatsTestServer } from '@sovren/testing';
import { connect, JSONCodec } from 'nats';

import { BenchArgs } from '../common/bench-args';

const ROOT = resolve(__dirname, '../../..');

async function main(): Promise<void> {
  const args = new BenchArgs('bench-usage-recording', process.argv.slice(2), { values: ['events', 'owners'] });
  const eventCount = args.int('events', 20_000, 1);
  const ownerCount = args.int('owners', 50, 1);
  const database = await createThrowawayDatabase({ label: 'bench_billing' });
  const nats = await NatsTestServer.start({ jetstream: true });
  const standIn = await KillBillStandIn.start();
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    SOVREN_LOG_LEVEL: 'warn',
    SOVREN_ROOT: `/tmp/${database.name}`,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: nats.url,
    SOVREN_BILLING_PORT: String(port),
    SOVREN_EGRESS_ALLOWLIST: standIn.hostPort,
    SOVREN_KILLBILL_URL: standIn.url,
    SOVREN_KILLBILL_API_KEY: standIn.apiKey,
    SOVREN_KILLBILL_API_SECRET: standIn.apiSecret,
    SOVREN_KILLBILL_USERNAME: standIn.username,
    SOVREN_KILLBILL_PASSWORD: standIn.password,
  };
  const observer = new KillBillClient(
    new EgressClient(testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: standIn.hostPort }), new MetricsService('bench')),
    {
      baseUrl: standIn.url,
      apiKey: standIn.apiKey,
      apiSecret: standIn.apiSecret,
      username: standIn.username,
      password: standIn.password,
      createdBy: 'bench',
    },
  );
  await observer.uploadCatalogXml(readFileSync(join(ROOT, 'deploy/killbill/catalog.xml'), 'utf8'));
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/billing/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env, SWC_NODE_PROJECT: join(ROOT, 'apps/billing/tsconfig.app.json') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await eventually(
      'billing to be ready',
      async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200,
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const nc = await connect({ servers: nats.url });
    await ensureStreams(await nc.jetstreamManager());
    const js = nc.jetstream();
    const codec = JSONCodec<UsageEventV1>();
    const owners = Array.from({ length: ownerCount }, (_, i) => `bench-owner-${i}`);
    let expectedTokens = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < eventCount; i += 500) {
      const chunk: Array<Promise<unknown>> = [];
      for (let j = i; j < Math.min(eventCount, i + 500); j += 1) {
        const tokens = 1 + (j % 1000);
        expectedTokens += tokens;
        const event: UsageEventV1 = {
          v: 1,
          eventId: `bench-${j}`,
          requestId: `r-${j}`,
          ownerId: owners[j % ownerCount],
          source: 'inference',
          quantities: { llm_tokens_in: tokens },
          occurredAt: new Date().toISOString(),
        };
        chunk.push(js.publish(usageSubject('inference'), codec.encode(event), { msgID: event.eventId }));
      }
      await Promise.all(chunk);
    }
    const published = process.hrtime.bigint();
    const recorded = () =>
      owners.reduce((sum, owner) => {
        const subscription = standIn.subscriptionOf(owner);
        return sum + (subscription ? Number(standIn.recordedTotal(subscription.subscriptionId, 'llm_tokens_in')) : 0);
      }, 0);
    await eventually('every event to be recorded in Kill Bill', () => recorded() >= expectedTokens, {
      timeoutMs: 600_000,
      intervalMs: 20,
    });
    const done = process.hrtime.bigint();
    const seconds = Number(done - started) / 1e9;
    console.log(
      JSON.stringify({
        events: eventCount,
        owners: ownerCount,
        publish_seconds: Number(published - started) / 1e9,
        end_to_end_seconds: seconds,
        events_per_second: Math.round(eventCount / seconds),
        killbill_usage_requests: standIn.usageRequests,
        recorded_exactly: recorded() === expectedTokens,
      }),
    );
    await nc.drain();
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await standIn.stop();
    await nats.dispose();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
