// bench-voice-agent: N concurrent phone conversations with the voice agent, end to end. The built voice and
// inference services run as processes (as systemd runs them) against a private nats-server with JetStream, a
// throwaway PostgreSQL database and a temp SOVREN_ROOT holding tiny random-weight models (LLM, Whisper, TTS: the
// words are noise, every stage is real). N baresip callers ring an agent number at once and each speaks --turns
// espeak-ng sentences, --gap seconds apart. Every turn's `voice.call.turn` event gives its voice-to-voice latency
// (end of caller speech → first agent packet on the wire) and the breakdown; printed as p50/p95 per stage with the
// load. Issue 19's goal on the GPU server: p50 < 600 ms with 50 calls; here: the figure with small shapes and where
// the time goes.
//
// Usage (repo root; PostgreSQL at SOVREN_TEST_DATABASE_URL or postgres@127.0.0.1:5432, nats-server, baresip,
// espeak-ng):
//   npx nx run-many -t build -p voice inference
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/voice-agent/bench-voice-agent.ts [--calls 4] [--turns 3] [--gap 10] [--speculative true|false]
import { writeWav } from '@sovren/audio';
import { CALL_TURN_LATENCY_FIELDS } from '@sovren/messaging';
import {
  baresipCall,
  createThrowawayDatabase,
  ensureBaresip,
  eventually,
  freePort,
  NatsTestServer,
  StopWaiting,
} from '@sovren/testing';
import { callerScript, seedAgentNumber, writeAgentTestModels } from '@sovren/testing/voice-agent';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, JSONCodec } from 'nats';

import { BenchArgs } from '../common/bench-args';
import { percentile } from '../common/percentile';
import { startServiceBundle, type BundleProcess } from '../common/service-bundle';
import { loopbackSipEnv } from '../voice/loopback-sip-env';

const NUMBER = '+15557790001';
const SENTENCES = [
  'Hello, I would like to book a table for two people tonight, please.',
  'Do you have anything around eight o clock, near the window?',
  'That sounds good. Can I also bring a small dog with me?',
  'Thank you very much, that is all I needed for today.',
];
const STAGES = CALL_TURN_LATENCY_FIELDS;

interface TurnEvent {
  callId: string;
  turn: number;
  interrupted: boolean;
  latency: Partial<Record<(typeof STAGES)[number], number>>;
}

async function waitReady(name: string, url: string, process: BundleProcess): Promise<void> {
  await eventually(
    `${name} to be ready`,
    async () => {
      if (process.exited) throw new StopWaiting(`${name} exited during start-up`);
      return (
        (await fetch(`${url}/health/ready`).then(
          (r) => r.status,
          () => 0,
        )) === 200
      );
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

async function main(): Promise<void> {
  const args = new BenchArgs('bench-voice-agent', process.argv.slice(2), {
    values: ['calls', 'turns', 'gap', 'speculative'],
  });
  const calls = args.int('calls', 4, 1);
  const turnCount = Math.min(args.int('turns', 3, 1), SENTENCES.length);
  const gap = args.number('gap', 10, 3);
  const speculative = args.string('speculative', 'true');
  if (speculative !== 'true' && speculative !== 'false') throw new Error('--speculative is true or false');
  ensureBaresip();
  const root = mkdtempSync(join(tmpdir(), 'bench-voice-agent-'));
  const nats = await NatsTestServer.start({ jetstream: true });
  const database = await createThrowawayDatabase({ label: 'bench_agent' });
  const services: BundleProcess[] = [];
  const nc = await connect({ servers: nats.url });
  try {
    await writeAgentTestModels(root);
    const common = {
      SOVREN_ROOT: root,
      SOVREN_NATS_URL: nats.url,
      SOVREN_DATABASE_URL: database.url,
      SOVREN_LOG_LEVEL: 'warn',
    };
    const voicePort = await freePort();
    const inferencePort = await freePort();
    const sipPort = await freePort();
    const inference = startServiceBundle('inference', {
      ...common,
      SOVREN_INFERENCE_PORT: String(inferencePort),
      SOVREN_INFERENCE_LOAD_ON_DEMAND: 'true',
    });
    services.push(inference);
    const voice = startServiceBundle('voice', {
      ...common,
      SOVREN_VOICE_PORT: String(voicePort),
      ...loopbackSipEnv(sipPort, calls),
      SOVREN_VOICE_AGENT_SILENCE_PROMPT_S: '0',
      SOVREN_VOICE_AGENT_SPECULATIVE_ASR_ENABLED: speculative,
      SOVREN_VOICE_AGENT_MAX_REPLY_TOKENS: '16',
      SOVREN_SKYETEL_SYNC_MINUTES: '0',
    });
    services.push(voice);
    await waitReady('inference', `http://127.0.0.1:${inferencePort}`, inference);
    await waitReady('voice', `http://127.0.0.1:${voicePort}`, voice);
    seedAgentNumber(root, {
      number: NUMBER,
      ownerId: 'bench-owner',
      greeting: 'Hello, thank you for calling. How can I help?',
      systemPrompt: 'You are a restaurant reservations desk. Answer in one short sentence.',
    });

    const turns: TurnEvent[] = [];
    const codec = JSONCodec<TurnEvent>();
    const subscription = nc.subscribe('voice.call.turn');
    void (async () => {
      for await (const message of subscription) turns.push(codec.decode(message.data));
    })();

    // Each caller: the greeting plays over the first 3 s, then one sentence every `gap` seconds.
    const lines = SENTENCES.slice(0, turnCount).map((text, i) => [3 + i * gap, text] as const);
    const seconds = 3 + turnCount * gap + 2;
    const dir = join(root, 'callers');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'caller.wav'), writeWav(await callerScript(dir, lines, seconds), 8000));
    const load1 = loadavg()[0];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        baresipCall({
          dir: join(dir, `caller-${i}`),
          wavPath: join(dir, 'caller.wav'),
          uri: `sip:${NUMBER}@127.0.0.1:${sipPort}`,
          seconds,
          rtpPorts: [40000 + i * 100, 40099 + i * 100],
        }),
      ),
    );
    const wallSeconds = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    subscription.unsubscribe();

    const answered = turns.filter((t) => !t.interrupted);
    const callIds = new Set(turns.map((t) => t.callId));
    console.log(
      `bench-voice-agent: ${calls} concurrent calls × ${turnCount} caller turns (${gap} s apart), ` +
        `tiny random models (LLM 2048 ctx, Whisper 1+1 layers, test TTS), speculative ASR ${speculative}; ` +
        `${cpus().length} CPUs, ` +
        `load ${load1.toFixed(2)} before → ${loadavg()[0].toFixed(2)} after; ${wallSeconds.toFixed(1)} s`,
    );
    console.log(
      `turns: ${turns.length} published (${answered.length} answered, ${turns.length - answered.length} ` +
        `interrupted) from ${callIds.size} calls; ${calls * turnCount} caller turns were spoken`,
    );
    console.log('stage               p50 ms   p95 ms   n');
    for (const stage of STAGES) {
      const values = answered.map((t) => t.latency[stage]).filter((v): v is number => v !== undefined);
      const p50 = percentile(values, 50);
      const p95 = percentile(values, 95);
      console.log(
        `${stage.padEnd(18)} ${Number.isNaN(p50) ? '     -' : p50.toFixed(0).padStart(7)}  ${Number.isNaN(p95) ? '     -' : p95.toFixed(0).padStart(7)}  ${values.length}`,
      );
    }
  } finally {
    await nc.close();
    for (const service of services) await service.stop();
    await nats.dispose();
    await database.drop();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
