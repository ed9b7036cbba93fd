// bench-asr: Whisper speech recognition on the native engine. For each model shape (tiny / base / small, random
// weights in whisper.cpp's file format), each utterance length, each encoder window (the full 30 s audio_ctx 1500,
// or reduced to fit the audio) and each batch size B, B utterances are transcribed in one native batch (one encoder
// pass, one decoder step per token for all of them) with a fixed number of decoded tokens. Prints the latency of
// the batch, its encoder and decoder parts, the real-time factor (latency / audio seconds of one utterance) and the
// aggregate audio seconds processed per second, with the load average.
//
// Usage (from the repo root, after `npx nx run native:build`):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/asr/bench-asr.ts [--shapes tiny,base] [--type F16|F32|Q8_0|Q4_0|Q5_0] [--seconds 2,5,10]
//       [--batches 1,8,32] [--ctx full,reduced] [--tokens 24] [--reps 1] [--threads N] [--dir tmp/bench-models]
// Models are written once into --dir and reused.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

import { EngineWhisper, audioCtxFor, type WhisperTranscription } from '@sovren/engine';
import { WhisperType, writeTinyWhisperModel } from '@sovren/engine/testing';

import { BenchArgs } from '../common/bench-args';
import { load } from '../engine/bench-support';

const REPO_ROOT = resolve(__dirname, '../../..');

interface Shape {
  name: string;
  state: number;
  heads: number;
  layers: number;
}

// openai/whisper's published dimensions (n_vocab 51865, 80 mels, 1500 audio / 448 text positions).
const SHAPES: Record<string, Shape> = {
  tiny: { name: 'tiny', state: 384, heads: 6, layers: 4 },
  base: { name: 'base', state: 512, heads: 8, layers: 6 },
  small: { name: 'small', state: 768, heads: 12, layers: 12 },
  medium: { name: 'medium', state: 1024, heads: 16, layers: 24 },
};

const TYPES: Record<string, WhisperType> = {
  F32: WhisperType.F32,
  F16: WhisperType.F16,
  Q8_0: WhisperType.Q8_0,
  Q4_0: WhisperType.Q4_0,
  Q5_0: WhisperType.Q5_0,
};

function parseArgs(argv: string[]) {
  const args = new BenchArgs('bench-asr', argv, {
    values: ['shapes', 'type', 'seconds', 'batches', 'ctx', 'tokens', 'reps', 'threads', 'dir'],
  });
  const shapes = args.string('shapes', 'tiny,base').split(',');
  for (const s of shapes) if (!SHAPES[s]) throw new Error(`bench-asr: unknown shape '${s}'`);
  const type = args.oneOf('type', 'F16', Object.keys(TYPES));
  const ctx = args.string('ctx', 'full,reduced').split(',');
  for (const c of ctx) if (c !== 'full' && c !== 'reduced') throw new Error(`bench-asr: --ctx takes full,reduced`);
  return {
    shapes: shapes.map((s) => SHAPES[s]),
    type,
    seconds: args.intList('seconds', [2, 5, 10], 1),
    batches: args.intList('batches', [1, 8, 32], 1),
    ctx,
    tokens: args.int('tokens', 24, 1),
    reps: args.int('reps', 1, 1),
    threads: args.int('threads', 0, 0),
    dir: args.string('dir', join(REPO_ROOT, 'tmp', 'bench-models')),
  };
}

/** Speech-like test audio: a few harmonics with a slow pitch glide and noise, seeded per utterance. */
function utterance(seconds: number, seed: number): Float32Array {
  const n = seconds * 16000;
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const f0 = 120 + 40 * Math.sin((2 * Math.PI * i) / 16000 / 1.5) + 10 * seed;
    let v = 0;
    for (let h = 1; h <= 5; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / 16000) / h;
    out[i] = 0.2 * v + 0.02 * (s / 2 ** 32 - 0.5);
  }
  return out;
}

function ensureModel(shape: Shape, typeName: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `whisper-${shape.name}-${typeName}.bin`);
  if (!existsSync(path)) {
    const started = Date.now();
    writeTinyWhisperModel(path, {
      type: TYPES[typeName],
      nAudioState: shape.state,
      nAudioHead: shape.heads,
      nAudioLayer: shape.layers,
      nTextState: shape.state,
      nTextHead: shape.heads,
      nTextLayer: shape.layers,
      keepReference: false,
    });
    const mib = statSync(path).size / 2 ** 20;
    console.log(`wrote ${path} (${mib.toFixed(0)} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return path;
}

interface Row {
  shape: string;
  seconds: number;
  ctx: number;
  batch: number;
  latencyMs: number;
  encodeMs: number;
  decodeMs: number;
  rtf: number;
  audioPerSecond: number;
  load: string;
}

async function run(model: EngineWhisper, seconds: number, audioCtx: number, batch: number, tokens: number) {
  const audios = Array.from({ length: batch }, (_, i) => utterance(seconds, i + 1));
  const options = { language: 'en', temperature: 0, maxTokens: tokens, audioCtx };
  const started = process.hrtime.bigint();
  const results: WhisperTranscription[] = await Promise.all(audios.map((a) => model.transcribe(a, options)));
  const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
  const batches = new Set(results.map((r) => r.timings.batchSize));
  if (batches.size !== 1 || !batches.has(batch)) throw new Error(`bench-asr: expected one batch of ${batch}`);
  return { latencyMs, encodeMs: results[0].timings.encodeMs, decodeMs: results[0].timings.decodeMs };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs; ${options.type} weights; ` +
      `${options.tokens} decoded tokens per utterance; best of ${options.reps}  [load ${load()}]`,
  );
  const rows: Row[] = [];
  for (const shape of options.shapes) {
    const path = ensureModel(shape, options.type, options.dir);
    const model = await EngineWhisper.load(path, { threads: options.threads });
    const info = model.info();
    console.log(
      `${shape.name}: d ${info.nAudioState}, ${info.nAudioLayer}+${info.nTextLayer} layers, ${info.backend}, ${info.threads} threads, ${info.weightTypes}`,
    );
    try {
      await run(model, 1, 16, 1, 2); // warm-up
      for (const seconds of options.seconds) {
        for (const ctxName of options.ctx) {
          const ctx = ctxName === 'full' ? info.nAudioCtx : audioCtxFor(seconds * 16000, info.nAudioCtx);
          for (const batch of options.batches) {
            let best: Awaited<ReturnType<typeof run>> | undefined;
            for (let rep = 0; rep < options.reps; rep++) {
              const r = await run(model, seconds, ctx, batch, options.tokens);
              if (!best || r.latencyMs < best.latencyMs) best = r;
            }
            if (!best) continue;
            const row: Row = {
              shape: shape.name,
              seconds,
              ctx,
              batch,
              ...best,
              rtf: best.latencyMs / 1000 / seconds,
              audioPerSecond: (batch * seconds) / (best.latencyMs / 1000),
              load: load(),
            };
            rows.push(row);
            console.log(
              `  ${shape.name} ${seconds} s ctx ${ctx} batch ${batch}: ${row.latencyMs.toFixed(0)} ms ` +
                `(encode ${row.encodeMs.toFixed(0)}, decode ${row.decodeMs.toFixed(0)}), RTF ${row.rtf.toFixed(3)}, ` +
                `${row.audioPerSecond.toFixed(1)} audio s/s  [load ${row.load}]`,
            );
          }
        }
      }
    } finally {
      model.close();
    }
  }
  console.log('');
  console.log(
    '| shape | audio s | audio_ctx | batch | latency ms | encode ms | decode ms | RTF | audio s / s | load avg |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.shape} | ${r.seconds} | ${r.ctx} | ${r.batch} | ${r.latencyMs.toFixed(0)} | ${r.encodeMs.toFixed(0)} | ` +
        `${r.decodeMs.toFixed(0)} | ${r.rtf.toFixed(3)} | ${r.audioPerSecond.toFixed(1)} | ${r.load} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
