// The options of the benchmarks that write a random-weight, Llama-layout model (bench-batch, bench-inference):
// tensor type, shape, compute threads and the folder the model is written to, named and read the same way in both,
// and the model written from them.
import { TensorType } from '@sovren/engine';
import { writeBenchmarkModel, type BenchmarkShape } from '@sovren/engine/testing';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

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

/** The model of this shape and type in options.dir, written first unless an earlier run left it there. */
export async function ensureBenchmarkModel(
  options: ModelShapeOptions,
  tool: string,
): Promise<{ path: string; shape: BenchmarkShape; written: boolean }> {
  mkdirSync(options.dir, { recursive: true });
  const shape: BenchmarkShape = {
    name: `batch-d${options.dim}-l${options.layers}-ff${options.ff}-h${options.heads}-kv${options.kvHeads}-v${options.vocab}`,
    dim: options.dim,
    hiddenDim: options.ff,
    nLayers: options.layers,
    nHeads: options.heads,
    nKvHeads: options.kvHeads,
    vocabSize: options.vocab,
    contextLength: 4096,
  };
  const path = join(options.dir, `${shape.name}-${options.type}.gguf`);
  if (existsSync(path)) return { path, shape, written: false };
  await writeBenchmarkModel(path, { type: typeByName(options.type, tool), shape });
  return { path, shape, written: true };
}

/** A GGUF tensor type by its name ("F16", "Q8_0", ...); `tool` names the benchmark in the error. */
export function typeByName(name: string, tool: string): TensorType {
  const type = (TensorType as unknown as Record<string, TensorType | undefined>)[name];
  if (type === undefined) throw new Error(`${tool}: unknown tensor type '${name}'`);
  return type;
}
