// The options of the benchmarks that write a random-weight, Llama-layout model (bench-batch, bench-inference):
// tensor type, shape, compute threads and the folder the model is written to, named and read the same way in both.
import { resolve } from 'node:path';

import { BenchArgs } from './bench-args';

export const MODEL_SHAPE_OPTIONS = ['type', 'dim', 'ff', 'layers', 'heads', 'kv-heads', 'vocab', 'threads', 'dir'];

export interface ModelShapeOptions {
  /** GGUF tensor type of the weights, e.g. F16 or Q8_0. */
  type: string;
  dim: number;
  ff: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  /** Compute threads; 0: one per core. */
  threads: number;
  /** Where the model is written once and reused (absolute). */
  dir: string;
}

/** The model-shape options given on the command line, `defaults` for the rest; sizes are whole numbers >= 1. */
export function readModelShape(args: BenchArgs, defaults: ModelShapeOptions): ModelShapeOptions {
  return {
    type: args.string('type', defaults.type),
    dim: args.int('dim', defaults.dim, 1),
    ff: args.int('ff', defaults.ff, 1),
    layers: args.int('layers', defaults.layers, 1),
    heads: args.int('heads', defaults.heads, 1),
    kvHeads: args.int('kv-heads', defaults.kvHeads, 1),
    vocab: args.int('vocab', defaults.vocab, 1),
    threads: args.int('threads', defaults.threads),
    dir: resolve(args.string('dir', defaults.dir)),
  };
}
