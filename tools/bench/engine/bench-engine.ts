// bench-engine: llama-bench style end-to-end numbers for the native engine, in one command: the machine's memory
// read bandwidth, then for each weight type a Llama-1B-shaped model with random weights (dim 2048, 16 layers,
// ff 8192, 32 heads, 8 kv heads, vocab 32000): pp (prompt tokens/s, one forward pass over the prompt), tg
// (tokens/s generating one token at a time), and the fraction of the bandwidth tg achieves (bytes of weights read
// per token x tok/s / bandwidth). Each figure is measured --reps times; best and median are printed with the
// load average, because the machine may be shared.
//
// Usage (from the repo root, after building the addon and the bench tools into build/native):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/engine/bench-engine.ts [--types F16,Q8_0,Q4_K] [--pp 512] [--tg 128]
//       [--reps 3] [--weights copy|mmap|copy,mmap] [--threads N] [--layers L] [--dir tmp/bench-models]
//       [--bin-dir build/native] [--bandwidth GBps] [--backend cpu|cuda|auto]
// Model files are written once per type into --dir and reused by later runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import { type EngineBackendRequest, EngineModel, rowBytes, type WeightStorage } from '@sovren/engine';
import { LLAMA_1B_SHAPE, writeBenchmarkModel } from '@sovren/engine/testing';
import { errorMessage } from '@sovren/resilience';

import { BenchArgs } from '../common/bench-args';
import { typeByName } from '../common/model-shape-args';
import { median } from '../common/percentile';
import { load } from './bench-support';

const REPO_ROOT = resolve(__dirname, '../../..');

interface Options {
  types: string[];
  pp: number;
  tg: number;
  reps: number;
  weights: WeightStorage[];
  threads: number;
  layers: number;
  dir: string;
  binDir: string;
  bandwidth: number | undefined;
  backend: EngineBackendRequest;
}

function parseArgs(argv: string[]): Options {
  const args = new BenchArgs('bench-engine', argv, {
    values: ['types', 'pp', 'tg', 'reps', 'weights', 'threads', 'layers', 'dir', 'bin-dir', 'bandwidth', 'backend'],
  });
  return {
    types: args.list('types', ['F16', 'Q8_0', 'Q4_K']),
    pp: args.int('pp', 512),
    tg: args.int('tg', 128),
    reps: Math.max(1, args.int('reps', 3)),
    weights: args.listOf<WeightStorage>('weights', ['copy'], ['copy', 'mmap']),
    threads: args.int('threads', 0),
    layers: args.int('layers', LLAMA_1B_SHAPE.nLayers),
    dir: resolve(args.string('dir', join(REPO_ROOT, 'tmp', 'bench-models'))),
    binDir: resolve(args.string('bin-dir', join(REPO_ROOT, 'build', 'native'))),
    bandwidth: args.has('bandwidth') ? args.number('bandwidth', 0, 0, true) : undefined,
    backend: args.oneOf<EngineBackendRequest>('backend', 'auto', ['cpu', 'cuda', 'auto']),
  };
}

/** Runs bench-bandwidth and returns its best figure over all thread counts, in GB/s. */
function measureBandwidth(options: Options): number | undefined {
  const binary = join(options.binDir, 'bench-bandwidth');
  if (!existsSync(binary)) {
    console.log(`memory read bandwidth: not measured (${binary} is not built; pass --bandwidth GBps)`);
    return undefined;
  }
  const args = ['--repeats', '5'];
  if (options.threads > 0) args.push('--threads', String(options.threads));
  const out = execFileSync(binary, args, { encoding: 'utf8' });
  const figures = [...out.matchAll(/([\d.]+) GB\/s/g)].map((m) => Number(m[1]));
  if (figures.length === 0) return undefined;
  const best = Math.max(...figures);
  console.log(
    `memory read bandwidth (bench-bandwidth, 1 GiB, best of 5): ${out
      .trim()
      .split('\n')
      .map((l) => l.replace(/^read bandwidth, /, ''))
      .join('; ')}  [load ${load()}]`,
  );
  return best;
}

interface Result {
  type: string;
  weights: WeightStorage;
  pp: number[];
  tg: number[];
  bytesPerToken: number;
}

async function benchType(typeName: string, weights: WeightStorage, options: Options): Promise<Result> {
  const shape = { ...LLAMA_1B_SHAPE, nLayers: options.layers, name: `${LLAMA_1B_SHAPE.name}-l${options.layers}` };
  const path = join(options.dir, `${shape.name}-${typeName}.gguf`);
  if (!existsSync(path)) {
    const started = Date.now();
    await writeBenchmarkModel(path, { type: typeByName(typeName, 'bench-engine'), shape });
    console.log(
      `wrote ${path} (${(statSync(path).size / 2 ** 30).toFixed(2)} GiB) in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
  const loadStart = process.hrtime.bigint();
  const model = await EngineModel.load(path, {
    threads: options.threads,
    contextSize: Math.max(options.pp + options.tg + 8, 256),
    weights,
    backend: options.backend,
  });
  const loadSeconds = Number(process.hrtime.bigint() - loadStart) / 1e9;
  const result: Result = { type: typeName, weights, pp: [], tg: [], bytesPerToken: 0 };
  try {
    const info = model.info();
    // Every weight except the token embedding table (a row lookup) is read once per generated token.
    result.bytesPerToken =
      info.weightBytes - info.vocabSize * rowBytes(typeByName(typeName, 'bench-engine'), info.embeddingLength);
    const device = info.deviceBytes ? `, ${(info.deviceBytes / 2 ** 30).toFixed(2)} GiB on the GPU` : '';
    console.log(
      `${typeName} (${weights}): ${(info.weightBytes / 2 ** 30).toFixed(2)} GiB of weights, ${info.backend}${device}, ` +
        `${info.threads} threads, loaded in ${loadSeconds.toFixed(1)} s  [load ${load()}]`,
    );
    const seq = model.createSequence();
    const prompt = Array.from({ length: options.pp }, (_, i) => 1 + ((i * 7919) % (info.vocabSize - 1)));
    seq.evaluate([1, 2, 3, 4]); // warm-up: first touch of the weights, start the threads
    for (let rep = 0; rep < options.reps; rep++) {
      if (options.pp > 0) {
        seq.reset();
        const start = process.hrtime.bigint();
        seq.evaluate(prompt);
        result.pp.push(options.pp / (Number(process.hrtime.bigint() - start) / 1e9));
      }
      if (options.tg > 0) {
        seq.reset();
        seq.evaluate([1]);
        const start = process.hrtime.bigint();
        for (let i = 0; i < options.tg; i++) seq.evaluate([1 + ((i * 31) % (info.vocabSize - 1))]);
        result.tg.push(options.tg / (Number(process.hrtime.bigint() - start) / 1e9));
      }
      console.log(
        `  rep ${rep + 1}: pp${options.pp} ${(result.pp.at(-1) ?? 0).toFixed(1)} tok/s, ` +
          `tg${options.tg} ${(result.tg.at(-1) ?? 0).toFixed(2)} tok/s  [load ${load()}]`,
      );
    }
    seq.close();
  } finally {
    model.close();
  }
  return result;
}

function printTable(results: Result[], options: Options, bandwidth: number | undefined): void {
  console.log('');
  console.log(
    `| type | weights | pp${options.pp} tok/s best / median | tg${options.tg} tok/s best / median | GB read per token | tg GB/s best / median | % of ${bandwidth ? bandwidth.toFixed(1) : '?'} GB/s best / median |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const gb = r.bytesPerToken / 1e9;
    const tgBest = r.tg.length > 0 ? Math.max(...r.tg) : 0;
    const tgMedian = r.tg.length > 0 ? median(r.tg) : 0;
    const pp = r.pp.length > 0 ? `${Math.max(...r.pp).toFixed(1)} / ${median(r.pp).toFixed(1)}` : '-';
    const pct = (rate: number): string => (bandwidth ? `${((100 * gb * rate) / bandwidth).toFixed(0)}%` : '?');
    console.log(
      `| ${r.type} | ${r.weights} | ${pp} | ${tgBest.toFixed(2)} / ${tgMedian.toFixed(2)} | ${gb.toFixed(3)} | ` +
        `${(gb * tgBest).toFixed(1)} / ${(gb * tgMedian).toFixed(1)} | ${pct(tgBest)} / ${pct(tgMedian)} |`,
    );
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  mkdirSync(options.dir, { recursive: true });
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
      `${options.reps} reps per figure  [load ${load()}]`,
  );
  let bandwidth = options.bandwidth ?? measureBandwidth(options);
  const results: Result[] = [];
  for (const type of options.types) {
    for (const weights of options.weights) results.push(await benchType(type, weights, options));
  }
  // Measured again at the end: the fraction is taken against the higher (less disturbed) of the two.
  if (options.bandwidth === undefined && bandwidth !== undefined) {
    const after = measureBandwidth(options);
    if (after !== undefined) bandwidth = Math.max(bandwidth, after);
  }
  printTable(results, options, bandwidth);
}

main().catch((error: unknown) => {
  console.error(errorMessage(error));
  process.exitCode = 1;
});
