// bench-inference: load test of the inference service through its real HTTP API. Starts the built inference
// service (dist/apps/inference/main.js, `npx nx build inference`) as a process, as systemd runs it (private
// nats-server with JetStream, throwaway PostgreSQL database, temp SOVREN_ROOT holding a generated model of
// realistic small shape), guarded for real: auth.validate is answered by the stand-in of
// @sovren/messaging/testing for one API key (the guard caches its answer, so auth is no part of what is
// measured). Then runs streaming chat completions: first one client alone, then C concurrent clients, each for a
// fixed time, each client sending its next request as soon as the previous one ends. Prints requests completed, aggregate tokens/s, time to first token and
// inter-token p50/p99, errors, and the concurrent/single throughput ratio. Latencies are shown twice: as the client
// sees text arrive (per SSE chunk with text: tokens that complete no text, such as the random model's many
// control tokens or half a UTF-8 character, send no chunk) and per token from the server's histograms.
// Goal (issue 5): zero errors, inter-token p99 < 90 ms, aggregate tokens/s at 50 clients >= 4x single-client.
//
// Usage (repo root; needs PostgreSQL at SOVREN_TEST_DATABASE_URL or postgres@127.0.0.1:5432, nats-server, the
// native addon built and the inference bundle built by `npx nx build inference`):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/inference/bench-inference.ts [--clients 50] [--duration 60] [--single-duration 30]
//     [--max-tokens 64] [--prompt-words 24] [--type F16] [--dim 768] [--ff 2048] [--layers 12] [--heads 12]
//     [--kv-heads 4] [--vocab 32000] [--threads 0] [--max-sequences 64] [--prompt-chunk 128] [--dir tmp/bench-models]
import { cpus, loadavg } from 'node:os';

import { BenchArgs } from '../common/bench-args';
import {
  ensureBenchmarkModel,
  MODEL_SHAPE_OPTIONS,
  ModelShapeOptions,
  readModelShape,
} from '../common/model-shape-args';
import { percentile } from '../common/percentile';
import {
  BENCH_MODEL_ID as MODEL_ID,
  BENCH_MODEL_SHAPE,
  describeModel,
  startInferenceProcess,
} from './inference-process';

interface Options extends ModelShapeOptions {
  clients: number;
  duration: number;
  singleDuration: number;
  maxTokens: number;
  promptWords: number;
  maxSequences: number;
  promptChunk: number;
}

function parseArgs(argv: string[]): Options {
  const args = new BenchArgs('bench-inference', argv, {
    values: [
      'clients',
      'duration',
      'single-duration',
      'max-tokens',
      'prompt-words',
      'max-sequences',
      'prompt-chunk',
      ...MODEL_SHAPE_OPTIONS,
    ],
  });
  return {
    clients: args.number('clients', 50),
    duration: args.number('duration', 60),
    singleDuration: args.number('single-duration', 30),
    maxTokens: args.number('max-tokens', 64),
    promptWords: args.number('prompt-words', 24),
    maxSequences: args.number('max-sequences', 64),
    promptChunk: args.number('prompt-chunk', 128),
    ...readModelShape(args, BENCH_MODEL_SHAPE),
  };
}

interface RequestResult {
  ok: boolean;
  error?: string;
  tokens: number;
  ttftMs?: number;
  gapsMs: number[];
}

/** One streaming chat completion, timed as a client sees it. */
async function streamOnce(
  url: string,
  apiKey: string,
  prompt: string,
  maxTokens: number,
  seed: number,
): Promise<RequestResult> {
  const started = performance.now();
  const result: RequestResult = { ok: false, tokens: 0, gapsMs: [] };
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        model: MODEL_ID,
        messages: [{ role: 'user', content: prompt }],
        max_tokens: maxTokens,
        seed,
        temperature: 0.8,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    if (response.status !== 200 || !response.body) {
      result.error = `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
      return result;
    }
    const decoder = new TextDecoder();
    let pending = '';
    let last: number | undefined;
    let done = false;
    for await (const piece of response.body) {
      pending += decoder.decode(piece as Uint8Array, { stream: true });
      let end: number;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const data = pending.slice('data: '.length, end);
        pending = pending.slice(end + 2);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as {
          choices: Array<{ delta?: { content?: string } }>;
          usage?: { completion_tokens: number } | null;
        };
        if (chunk.usage) result.tokens = chunk.usage.completion_tokens;
        if (!chunk.choices[0]?.delta?.content) continue;
        const now = performance.now();
        if (last === undefined) result.ttftMs = now - started;
        else result.gapsMs.push(now - last);
        last = now;
      }
    }
    result.ok = done;
    if (!done) result.error = 'stream ended without [DONE]';
  } catch (error) {
    result.error = (error as Error).message;
  }
  return result;
}

interface PhaseResult {
  clients: number;
  seconds: number;
  completed: number;
  errors: string[];
  tokens: number;
  ttft: number[];
  gaps: number[];
}

async function runPhase(
  url: string,
  apiKey: string,
  clients: number,
  seconds: number,
  options: Options,
): Promise<PhaseResult> {
  const words = 'the quick brown fox jumps over the lazy dog while the engine answers every question'.split(' ');
  const deadline = performance.now() + seconds * 1000;
  const phase: PhaseResult = { clients, seconds: 0, completed: 0, errors: [], tokens: 0, ttft: [], gaps: [] };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const prompt = Array.from(
          { length: options.promptWords },
          (_, i) => words[(client * 7 + n * 3 + i) % words.length],
        ).join(' ');
        const result = await streamOnce(url, apiKey, prompt, options.maxTokens, client * 1000 + n);
        if (!result.ok) {
          phase.errors.push(result.error ?? 'unknown');
          continue;
        }
        phase.completed += 1;
        phase.tokens += result.tokens;
        if (result.ttftMs !== undefined) phase.ttft.push(result.ttftMs);
        phase.gaps.push(...result.gapsMs);
      }
    }),
  );
  phase.seconds = (performance.now() - started) / 1000;
  return phase;
}

interface ServerTotals {
  steps: number;
  stepSeconds: number;
  stepSequences: number;
  /** Cumulative bucket counts (le -> count) of the per-token histograms. */
  interToken: Map<number, number>;
  firstToken: Map<number, number>;
}

/** Server-side totals of the bench model from /metrics: batched steps, and the per-token latency histograms. */
async function serverTotals(url: string): Promise<ServerTotals> {
  const lines = (await (await fetch(`${url}/metrics`)).text())
    .split('\n')
    .filter((l) => l.includes(`model="${MODEL_ID}"`));
  const value = (name: string): number => {
    const line = lines.find((l) => l.startsWith(`${name}{`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  const buckets = (name: string): Map<number, number> => {
    const map = new Map<number, number>();
    for (const line of lines.filter((l) => l.startsWith(`${name}_bucket{`))) {
      const le = /le="([^"]+)"/.exec(line)?.[1] ?? '+Inf';
      map.set(le === '+Inf' ? Infinity : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return map;
  };
  return {
    steps: value('sovren_inference_step_seconds_count'),
    stepSeconds: value('sovren_inference_step_seconds_sum'),
    stepSequences: value('sovren_inference_step_sequences_sum'),
    interToken: buckets('sovren_inference_inter_token_seconds'),
    firstToken: buckets('sovren_inference_time_to_first_token_seconds'),
  };
}

/** A quantile of a bucketed histogram (linear inside the bucket, as PromQL's histogram_quantile), in ms. */
function bucketQuantile(after: Map<number, number>, before: Map<number, number>, q: number): number {
  const edges = [...after.keys()].sort((a, b) => a - b);
  const counts = edges.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < edges.length; i++) {
    if (counts[i] >= rank) {
      if (!Number.isFinite(edges[i])) return edges[i - 1] * 1000;
      const lower = i === 0 ? 0 : edges[i - 1];
      const below = i === 0 ? 0 : counts[i - 1];
      return (lower + ((edges[i] - lower) * (rank - below)) / Math.max(1, counts[i] - below)) * 1000;
    }
  }
  return Number.NaN;
}

interface ServerPhase {
  stepMs: number;
  stepSequences: number;
  itlP50: number;
  itlP99: number;
  /** Share of inter-token gaps <= 90 ms (exact: 0.09 is a bucket edge). */
  itlWithin90: number;
  ttftP50: number;
  ttftP99: number;
}

async function measured(url: string, run: () => Promise<PhaseResult>): Promise<PhaseResult & { server: ServerPhase }> {
  const before = await serverTotals(url);
  const phase = await run();
  const after = await serverTotals(url);
  const steps = Math.max(1, after.steps - before.steps);
  const gaps = (after.interToken.get(Infinity) ?? 0) - (before.interToken.get(Infinity) ?? 0);
  const within = (after.interToken.get(0.09) ?? 0) - (before.interToken.get(0.09) ?? 0);
  return {
    ...phase,
    server: {
      stepMs: ((after.stepSeconds - before.stepSeconds) * 1000) / steps,
      stepSequences: (after.stepSequences - before.stepSequences) / steps,
      itlP50: bucketQuantile(after.interToken, before.interToken, 0.5),
      itlP99: bucketQuantile(after.interToken, before.interToken, 0.99),
      itlWithin90: gaps > 0 ? within / gaps : Number.NaN,
      ttftP50: bucketQuantile(after.firstToken, before.firstToken, 0.5),
      ttftP99: bucketQuantile(after.firstToken, before.firstToken, 0.99),
    },
  };
}

function report(label: string, phase: PhaseResult & { server: ServerPhase }): number {
  const tps = phase.tokens / phase.seconds;
  const f = (ms: number) => ms.toFixed(1).padStart(8);
  console.log(
    `${label.padEnd(12)} ${String(phase.clients).padStart(7)} ${phase.seconds.toFixed(1).padStart(7)} ${String(phase.completed).padStart(9)} ` +
      `${tps.toFixed(1).padStart(9)} ${f(percentile(phase.ttft, 50))} ${f(percentile(phase.ttft, 99))} ${f(percentile(phase.gaps, 50))} ` +
      `${f(percentile(phase.gaps, 99))} ${String(phase.errors.length).padStart(6)}   load ${loadavg()
        .map((l) => l.toFixed(1))
        .join('/')}`,
  );
  const sv = phase.server;
  console.log(
    `  server, per token: TTFT p50 ${sv.ttftP50.toFixed(0)} p99 ${sv.ttftP99.toFixed(0)} ms, inter-token p50 ${sv.itlP50.toFixed(1)} ` +
      `p99 ${sv.itlP99.toFixed(1)} ms (${(sv.itlWithin90 * 100).toFixed(1)}% <= 90 ms); mean batched step ` +
      `${sv.stepMs.toFixed(1)} ms carrying ${sv.stepSequences.toFixed(1)} sequences`,
  );
  if (phase.errors.length > 0) console.log(`  first errors: ${[...new Set(phase.errors)].slice(0, 3).join(' | ')}`);
  return tps;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { path: modelPath, shape } = await ensureBenchmarkModel(options, 'bench-inference');
  const service = await startInferenceProcess(modelPath, {
    SOVREN_INFERENCE_THREADS: String(options.threads),
    SOVREN_INFERENCE_MAX_SEQUENCES: String(options.maxSequences),
    SOVREN_INFERENCE_PROMPT_CHUNK: String(options.promptChunk),
    SOVREN_INFERENCE_SEQUENCE_CONTEXT: '512',
  });
  const { url, apiKey } = service;
  try {
    console.log(
      `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs; model ${shape.name} ${options.type} ` +
        `(${describeModel(service.model)}); max_tokens ${options.maxTokens}, ~${options.promptWords}-word prompts, ` +
        `${options.maxSequences} sequences, prompt chunk ${options.promptChunk}`,
    );
    await runPhase(url, apiKey, 2, 3, options); // warm-up
    console.log(
      'phase (client-side: per SSE chunk with text)  clients  s  completed  tokens/s  TTFTp50  TTFTp99  ITLp50  ITLp99  errors (ms)',
    );
    const single = report(
      'single',
      await measured(url, () => runPhase(url, apiKey, 1, options.singleDuration, options)),
    );
    const many = await measured(url, () => runPhase(url, apiKey, options.clients, options.duration, options));
    const concurrent = report('concurrent', many);
    const p99 = many.server.itlP99;
    console.log(
      `ratio ${(concurrent / single).toFixed(2)}x single-client; goals: errors 0 ${many.errors.length === 0 ? 'MET' : 'MISSED'}, ` +
        `inter-token p99 < 90 ms (server, per token) ${p99 < 90 ? 'MET' : 'MISSED'} (${p99.toFixed(1)} ms), ` +
        `>= 4x single ${concurrent >= 4 * single ? 'MET' : 'MISSED'}`,
    );
  } finally {
    await service.dispose();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? error);
  process.exit(1);
});
