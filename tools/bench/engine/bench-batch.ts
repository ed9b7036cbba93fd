// bench-batch: continuous-batching decode throughput of the native engine through EngineModel.step(). For each
// batch size B, B sequences are filled with --context prompt tokens each, then --steps decode steps are timed in
// which every sequence feeds back the token it sampled last step (one forward pass over B rows per step). Prints
// aggregate decode tokens/s, per-step (inter-token) latency p50 / p99 and the throughput relative to batch 1.
//
// Usage (from the repo root, after `NX_DAEMON=false npx nx run native:build`):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/engine/bench-batch.ts [--type F16|Q8_0|...]
//       [--batches 1,4,16,32,50] [--context 64] [--steps 48] [--reps 2] [--dim 512] [--ff 1536] [--layers 8]
//       [--heads 8] [--kv-heads 4] [--vocab 32000] [--threads N] [--weights copy|mmap] [--dir tmp/bench-models]
// The model (random weights, Llama layout) is written once into --dir and reused.
import { statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

import { EngineModel, EngineSequence, type SamplerSettings, type WeightStorage } from '@sovren/engine';
import { errorMessage } from '@sovren/resilience';

import { BenchArgs } from '../common/bench-args';
import {
  ensureBenchmarkModel,
  MODEL_SHAPE_OPTIONS,
  ModelShapeOptions,
  readModelShape,
} from '../common/model-shape-args';
import { percentile } from '../common/percentile';
import { load } from './bench-support';

const REPO_ROOT = resolve(__dirname, '../../..');

interface Options extends ModelShapeOptions {
  batches: number[];
  context: number;
  steps: number;
  reps: number;
  weights: WeightStorage;
}

function parseArgs(argv: string[]): Options {
  const args = new BenchArgs('bench-batch', argv, {
    values: ['batches', 'context', 'steps', 'reps', 'weights', ...MODEL_SHAPE_OPTIONS],
  });
  return {
    batches: args.intList('batches', [1, 4, 16, 32, 50], 1),
    context: args.int('context', 64, 1),
    steps: args.int('steps', 48, 1),
    reps: args.int('reps', 2, 1),
    weights: args.oneOf<WeightStorage>('weights', 'copy', ['copy', 'mmap']),
    ...readModelShape(args, {
      type: 'F16',
      dim: 512,
      ff: 1536,
      layers: 8,
      heads: 8,
      kvHeads: 4,
      vocab: 32000,
      threads: 0,
      dir: join(REPO_ROOT, 'tmp', 'bench-models'),
    }),
  };
}

interface BatchResult {
  batch: number;
  tokensPerSecond: number;
  p50: number;
  p99: number;
  load: string;
}

// The sampling a chat request would use (top-k + top-p + min-p + temperature), seeded per sequence.
const SAMPLER: SamplerSettings = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 };

async function benchBatch(model: EngineModel, batch: number, options: Options): Promise<BatchResult> {
  const vocab = model.info().vocabSize;
  const sequences: EngineSequence[] = [];
  for (let i = 0; i < batch; i++) {
    const sequence = model.createSequence({ contextSize: options.context + options.steps + 8 });
    sequence.setSampler({ ...SAMPLER, seed: i + 1 });
    sequences.push(sequence);
  }
  try {
    const prompt = (i: number): number[] =>
      Array.from({ length: options.context }, (_, t) => 1 + ((t * 7919 + i * 104729) % (vocab - 1)));
    // Prefill (not timed): every sequence gets its prompt, all in one step (split into micro-batches inside).
    const first = await model.step(sequences.map((sequence, i) => ({ sequence, tokens: prompt(i), sample: true })));
    let last = first.map((r) => r.token);
    const latencies: number[] = [];
    const decode = async (): Promise<number> => {
      const start = process.hrtime.bigint();
      const results = await model.step(sequences.map((sequence, i) => ({ sequence, tokens: [last[i]], sample: true })));
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      last = results.map((r) => r.token);
      return ms;
    };
    await decode(); // warm-up
    const started = process.hrtime.bigint();
    for (let s = 0; s < options.steps; s++) latencies.push(await decode());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      batch,
      tokensPerSecond: (batch * options.steps) / seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      load: load(),
    };
  } finally {
    for (const sequence of sequences) sequence.close();
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { path, shape, written } = await ensureBenchmarkModel(options, 'bench-batch');
  if (written) console.log(`wrote ${path} (${(statSync(path).size / 2 ** 20).toFixed(0)} MiB)`);
  const model = await EngineModel.load(path, { threads: options.threads, weights: options.weights });
  try {
    const info = model.info();
    console.log(
      `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs; model ${shape.name} ${options.type} ` +
        `(${(info.weightBytes / 2 ** 20).toFixed(0)} MiB of weights, ${(info.parameterCount / 1e6).toFixed(0)}M parameters), ` +
        `${info.backend}, ${info.threads} threads, weights ${info.weights}; ${options.context} tokens in each sequence ` +
        `before ${options.steps} timed decode steps; best of ${options.reps} reps  [load ${load()}]`,
    );
    const best = new Map<number, BatchResult>();
    for (let rep = 0; rep < options.reps; rep++) {
      for (const batch of options.batches) {
        const r = await benchBatch(model, batch, options);
        console.log(
          `  rep ${rep + 1} batch ${batch}: ${r.tokensPerSecond.toFixed(1)} tok/s, step p50 ${r.p50.toFixed(1)} ms, ` +
            `p99 ${r.p99.toFixed(1)} ms  [load ${r.load}]`,
        );
        const previous = best.get(batch);
        if (!previous || r.tokensPerSecond > previous.tokensPerSecond) best.set(batch, r);
      }
    }
    const base = best.get(1)?.tokensPerSecond;
    console.log('');
    console.log('| batch | decode tok/s (aggregate) | x batch 1 | step p50 ms | step p99 ms | load avg |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const batch of options.batches) {
      const r = best.get(batch);
      if (!r) continue;
      const ratio = base ? `${(r.tokensPerSecond / base).toFixed(2)}x` : '-';
      console.log(
        `| ${batch} | ${r.tokensPerSecond.toFixed(1)} | ${ratio} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.load} |`,
      );
    }
  } finally {
    model.close();
  }
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exitCode = 1;
});
