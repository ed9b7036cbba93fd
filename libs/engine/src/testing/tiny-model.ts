// Generates llama-family GGUF models with seeded random weights: tiny ones in every supported tensor type (with the
// dequantised weights for the float64 reference), and realistic shapes for benchmarks, streamed to disk.
import { GgufValueType, GgufWriter } from '../gguf/gguf-writer';
import { dequantizeRow } from '../quant/dequantize';
import { quantizeRow, quantizeRowInto } from '../quant/quantize';
import { TensorType, rowBytes, tensorTypeTraits } from '../quant/tensor-type';
import type { ReferenceConfig, ReferenceLayer, ReferenceWeights } from './reference-forward';
import { buildBpeVocab, buildSentencePieceVocab, tokenizerGgufKeys, TokenType, type TestVocab } from './test-vocab';

export type VocabKind = 'spm' | 'bpe';
export type TinyArchitecture = 'llama' | 'qwen2';

export interface TinyModelOptions {
  /** Type of every matrix (embedding, output, projections); norms and biases stay F32. Default F32. */
  type?: TensorType;
  /** SentencePiece (Llama 2 style) or byte-level BPE (Llama 3 style). Default 'spm'. */
  vocab?: VocabKind;
  /** Upper bound on the generated vocabulary (default 512). */
  vocabSize?: number;
  architecture?: TinyArchitecture;
  dim?: number;
  hiddenDim?: number;
  nLayers?: number;
  nHeads?: number;
  nKvHeads?: number;
  contextLength?: number;
  ropeFreqBase?: number;
  rmsEps?: number;
  /** Linear rope scaling factor (writes rope.scaling.type = linear). */
  ropeScalingFactor?: number;
  /** Write a rope_freqs.weight tensor (Llama 3.1 style per-pair frequency divisors). */
  ropeFreqFactors?: boolean;
  /** Leave output.weight out, so the output projection is tied to token_embd. */
  tiedEmbeddings?: boolean;
  /**
   * Zero the output rows of the end-of-generation tokens: their logit is always exactly 0, below the top logit, so
   * greedy generation runs to maxTokens (for specs that need long generations). Needs untied embeddings.
   */
  muteEndOfGeneration?: boolean;
  seed?: number;
  name?: string;
  /** For negative tests: tensors to leave out of the file. */
  omitTensors?: readonly string[];
  /** For negative tests: metadata values that disagree with the tensors written. */
  declared?: { architecture?: string; feedForwardLength?: number };
}

export interface TinyModel {
  path: string;
  type: TensorType;
  vocab: TestVocab;
  /** The weights as the engine sees them after dequantisation, in float64 for the reference forward pass. */
  weights: ReferenceWeights;
}

/** mulberry32: a small seeded generator, so every generated model is reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values with standard deviation `std` (mean 0). */
function randomValues(random: () => number, n: number, std: number): Float32Array {
  const half = std * Math.sqrt(3);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() * 2 - 1) * half;
  return out;
}

/** Quantises a [rows x cols] matrix row by row; returns the bytes and the dequantised values in float64. */
function encodeMatrix(
  type: TensorType,
  values: Float32Array,
  rows: number,
  cols: number,
): { bytes: Uint8Array; dequantised: Float64Array } {
  const rb = rowBytes(type, cols);
  const bytes = new Uint8Array(rb * rows);
  const dequantised = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = values.subarray(r * cols, (r + 1) * cols);
    quantizeRowInto(type, row, bytes, r * rb);
    dequantised.set(dequantizeRow(type, bytes.subarray(r * rb, (r + 1) * rb), cols), r * cols);
  }
  return { bytes, dequantised };
}

function f32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

/**
 * Adds seeded random tensors to `writer` (leaving out the names in `omitted`, for negative tests) and returns each
 * one's values as the engine sees them (dequantised), in float64 for a reference forward pass.
 */
export function randomTensorWriter(
  writer: GgufWriter,
  random: () => number,
  omitted: ReadonlySet<string>,
): {
  /** A [rows x cols] matrix of `type`, uniform with standard deviation `std`; zeroRows are all zero. */
  matrix(
    name: string,
    type: TensorType,
    rows: number,
    cols: number,
    std: number,
    zeroRows?: readonly number[],
  ): Float64Array;
  /** An F32 vector (norm weights near 1, biases near 0, as converters store them): center +- spread. */
  vector(name: string, n: number, center: number, spread: number): Float64Array;
} {
  return {
    matrix(name, type, rows, cols, std, zeroRows = []) {
      const values = randomValues(random, rows * cols, std);
      for (const r of zeroRows) values.fill(0, r * cols, (r + 1) * cols);
      const { bytes, dequantised } = encodeMatrix(type, values, rows, cols);
      if (!omitted.has(name)) writer.addTensor(name, [cols, rows], type, bytes);
      return dequantised;
    },
    vector(name, n, center, spread) {
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = center + (random() * 2 - 1) * spread;
      if (!omitted.has(name)) writer.addTensor(name, [n], TensorType.F32, f32Bytes(values));
      return Float64Array.from(values);
    },
  };
}

// Chat-format terminators the engine treats as end of generation besides EOS/EOT (native/src/model/gguf-vocab.cpp).
const END_OF_TURN_TEXTS = [
  '<|eot_id|>',
  '<|eom_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|end_of_text|>',
];

/** Every id the engine stops generating at for this vocabulary. */
export function endOfGenerationIds(vocab: TestVocab): number[] {
  const ids = new Set<number>([vocab.eosId]);
  if (vocab.eotId !== null) ids.add(vocab.eotId);
  vocab.tokens.forEach((text, id) => {
    if (END_OF_TURN_TEXTS.includes(text)) ids.add(id);
  });
  return [...ids];
}

/** Block size of the 8-bit activations that quantised weights of `type` are multiplied with (see ReferenceConfig). */
export function activationBlockFor(type: TensorType): number | undefined {
  switch (type) {
    case TensorType.Q4_0:
    case TensorType.Q8_0:
      return 32;
    case TensorType.Q4_K:
    case TensorType.Q6_K:
      return 256;
    default:
      return undefined;
  }
}

/** Writes the tokenizer keys with the value types llama.cpp uses, but for the keys in `omit`. */
export function addTokenizerKeys(writer: GgufWriter, vocab: TestVocab, omit: readonly string[] = []): void {
  for (const [key, value] of Object.entries(tokenizerGgufKeys(vocab))) {
    if (omit.includes(key)) continue;
    if (Array.isArray(value)) {
      const elementType =
        key === 'tokenizer.ggml.scores'
          ? GgufValueType.FLOAT32
          : key === 'tokenizer.ggml.token_type'
            ? GgufValueType.INT32
            : GgufValueType.STRING;
      writer.addArray(key, elementType, value);
    } else if (typeof value === 'number') {
      writer.addUint32(key, value);
    } else if (typeof value === 'boolean') {
      writer.addBool(key, value);
    } else {
      writer.addString(key, value);
    }
  }
}

/** Pads a vocabulary with reserved control tokens up to exactly `size` entries (real vocabularies are round). */
export function padVocab(vocab: TestVocab, size: number): TestVocab {
  const padded = structuredClone(vocab);
  for (let i = 0; padded.tokens.length < size; i++) {
    const text = `<|reserved_special_token_${i}|>`;
    padded.specialTokens[text] = padded.tokens.length;
    padded.tokens.push(text);
    padded.scores.push(0);
    padded.tokenTypes.push(TokenType.CONTROL);
  }
  return padded;
}

function buildVocab(kind: VocabKind, vocabSize: number): TestVocab {
  return kind === 'bpe' ? buildBpeVocab({ vocabSize }) : buildSentencePieceVocab({ vocabSize });
}

interface HyperParameters {
  architecture: string;
  name: string;
  contextLength: number;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  rmsEps: number;
  ropeFreqBase: number;
  ropeScalingFactor?: number;
}

function addHyperParameters(writer: GgufWriter, hp: HyperParameters): void {
  const a = hp.architecture;
  writer.addString('general.architecture', a);
  writer.addString('general.name', hp.name);
  writer.addUint32(`${a}.context_length`, hp.contextLength);
  writer.addUint32(`${a}.embedding_length`, hp.dim);
  writer.addUint32(`${a}.block_count`, hp.nLayers);
  writer.addUint32(`${a}.feed_forward_length`, hp.hiddenDim);
  writer.addUint32(`${a}.attention.head_count`, hp.nHeads);
  writer.addUint32(`${a}.attention.head_count_kv`, hp.nKvHeads);
  writer.addFloat32(`${a}.attention.layer_norm_rms_epsilon`, hp.rmsEps);
  writer.addFloat32(`${a}.rope.freq_base`, hp.ropeFreqBase);
  writer.addUint32(`${a}.rope.dimension_count`, hp.dim / hp.nHeads);
  if (hp.ropeScalingFactor !== undefined) {
    writer.addString(`${a}.rope.scaling.type`, 'linear');
    writer.addFloat32(`${a}.rope.scaling.factor`, hp.ropeScalingFactor);
  }
}

/**
 * Builds a tiny model in memory: the GGUF writer (not yet written) and the dequantised weights. Defaults: dim 256,
 * ff 512, 2 layers, 4 heads, 2 kv heads, context 128 (K-quants need rows of 256).
 */
export function buildTinyModel(options: TinyModelOptions = {}): {
  writer: GgufWriter;
  type: TensorType;
  vocab: TestVocab;
  weights: ReferenceWeights;
} {
  const type = options.type ?? TensorType.F32;
  const architecture = options.architecture ?? 'llama';
  const vocab = buildVocab(options.vocab ?? 'spm', options.vocabSize ?? 512);
  const dim = options.dim ?? 256;
  const hiddenDim = options.hiddenDim ?? 512;
  const nLayers = options.nLayers ?? 2;
  const nHeads = options.nHeads ?? 4;
  const nKvHeads = options.nKvHeads ?? 2;
  const headDim = dim / nHeads;
  const nVocab = vocab.tokens.length;
  const random = seededRandom(options.seed ?? 1234);

  const config: ReferenceConfig = {
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    vocabSize: nVocab,
    rmsEps: Math.fround(options.rmsEps ?? 1e-5),
    ropeFreqBase: Math.fround(options.ropeFreqBase ?? 10000),
    ropeFreqScale: options.ropeScalingFactor !== undefined ? 1 / Math.fround(options.ropeScalingFactor) : 1,
    nRot: headDim,
    ropeNeox: architecture === 'qwen2',
    activationBlock: activationBlockFor(type),
  };

  const writer = new GgufWriter();
  addHyperParameters(writer, {
    architecture: options.declared?.architecture ?? architecture,
    name: options.name ?? `tiny-${architecture}-${tensorTypeTraits(type).name}`,
    contextLength: options.contextLength ?? 128,
    dim,
    hiddenDim: options.declared?.feedForwardLength ?? hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    rmsEps: config.rmsEps,
    ropeFreqBase: config.ropeFreqBase,
    ropeScalingFactor: options.ropeScalingFactor,
  });
  writer.addUint32('general.file_type', type);
  addTokenizerKeys(writer, vocab);

  const omitted = new Set(options.omitTensors ?? []);
  const tensors = randomTensorWriter(writer, random, omitted);
  const matrix = (name: string, rows: number, cols: number, std: number, zeroRows: readonly number[] = []) =>
    tensors.matrix(name, type, rows, cols, std, zeroRows);
  const vector = tensors.vector;

  // Standard deviations keep activations O(1) through the layers, so logits spread enough to rank clearly.
  const tokenEmbedding = matrix('token_embd.weight', nVocab, dim, 1);
  const outputNorm = vector('output_norm.weight', dim, 1, 0.1);
  if (options.muteEndOfGeneration && options.tiedEmbeddings) {
    throw new Error('tiny model: muteEndOfGeneration needs an output.weight of its own (tiedEmbeddings off)');
  }
  const muted = options.muteEndOfGeneration ? endOfGenerationIds(vocab) : [];
  const output = options.tiedEmbeddings
    ? tokenEmbedding
    : matrix('output.weight', nVocab, dim, 2 / Math.sqrt(dim), muted);
  let ropeFreqFactors: Float64Array | undefined;
  if (options.ropeFreqFactors) ropeFreqFactors = vector('rope_freqs.weight', headDim / 2, 2, 1);

  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;
  const layers: ReferenceLayer[] = [];
  for (let l = 0; l < nLayers; l++) {
    const b = `blk.${l}.`;
    const layer: ReferenceLayer = {
      attnNorm: vector(`${b}attn_norm.weight`, dim, 1, 0.1),
      wq: matrix(`${b}attn_q.weight`, qDim, dim, 2 / Math.sqrt(dim)),
      wk: matrix(`${b}attn_k.weight`, kvDim, dim, 2 / Math.sqrt(dim)),
      wv: matrix(`${b}attn_v.weight`, kvDim, dim, 1 / Math.sqrt(dim)),
      wo: matrix(`${b}attn_output.weight`, dim, qDim, 1 / Math.sqrt(qDim)),
      ffnNorm: vector(`${b}ffn_norm.weight`, dim, 1, 0.1),
      wGate: matrix(`${b}ffn_gate.weight`, hiddenDim, dim, 1 / Math.sqrt(dim)),
      wUp: matrix(`${b}ffn_up.weight`, hiddenDim, dim, 1 / Math.sqrt(dim)),
      wDown: matrix(`${b}ffn_down.weight`, dim, hiddenDim, 1 / Math.sqrt(hiddenDim)),
    };
    if (architecture === 'qwen2') {
      layer.bq = vector(`${b}attn_q.bias`, qDim, 0, 0.2);
      layer.bk = vector(`${b}attn_k.bias`, kvDim, 0, 0.2);
      layer.bv = vector(`${b}attn_v.bias`, kvDim, 0, 0.2);
    }
    layers.push(layer);
  }
  return { writer, type, vocab, weights: { config, tokenEmbedding, layers, outputNorm, output, ropeFreqFactors } };
}

/** Builds a tiny model and writes it to `path`. */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<TinyModel> {
  const { writer, type, vocab, weights } = buildTinyModel(options);
  await writer.writeFile(path);
  return { path, type, vocab, weights };
}

export interface BenchmarkShape {
  name: string;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  contextLength: number;
}

/** Llama 3.2 1B's shape with a Llama 2 size vocabulary. */
export const LLAMA_1B_SHAPE: BenchmarkShape = {
  name: 'llama-1b-shape',
  dim: 2048,
  hiddenDim: 8192,
  nLayers: 16,
  nHeads: 32,
  nKvHeads: 8,
  vocabSize: 32000,
  contextLength: 4096,
};

export interface BenchmarkModelOptions {
  type: TensorType;
  shape?: BenchmarkShape;
  vocab?: VocabKind;
  seed?: number;
}

/**
 * Writes a model of a realistic shape with random weights, tensor by tensor and chunk by chunk, so multi-GB files
 * never sit in memory. Each tensor's rows are drawn (seeded) from a pool of distinct quantised rows: the bytes
 * the kernels stream are as large and as varied per cache line as a real model's, without quantising billions of
 * values in JavaScript.
 */
export async function writeBenchmarkModel(
  path: string,
  options: BenchmarkModelOptions,
): Promise<{ path: string; bytes: number }> {
  const shape = options.shape ?? LLAMA_1B_SHAPE;
  const type = options.type;
  const vocab = padVocab(buildVocab(options.vocab ?? 'spm', Math.min(shape.vocabSize, 1024)), shape.vocabSize);
  if (vocab.tokens.length !== shape.vocabSize) {
    throw new Error(`benchmark vocabulary has ${vocab.tokens.length} tokens, expected ${shape.vocabSize}`);
  }
  const random = seededRandom(options.seed ?? 42);
  const writer = new GgufWriter();
  addHyperParameters(writer, {
    architecture: 'llama',
    name: `${shape.name}-${tensorTypeTraits(type).name}`,
    contextLength: shape.contextLength,
    dim: shape.dim,
    hiddenDim: shape.hiddenDim,
    nLayers: shape.nLayers,
    nHeads: shape.nHeads,
    nKvHeads: shape.nKvHeads,
    rmsEps: 1e-5,
    ropeFreqBase: 500000,
  });
  writer.addUint32('general.file_type', type);
  addTokenizerKeys(writer, vocab);

  const poolRows = 64;
  const pools = new Map<number, Uint8Array[]>();
  const poolFor = (cols: number): Uint8Array[] => {
    let pool = pools.get(cols);
    if (!pool) {
      pool = [];
      for (let r = 0; r < poolRows; r++) pool.push(quantizeRow(type, randomValues(random, cols, 1 / Math.sqrt(cols))));
      pools.set(cols, pool);
    }
    return pool;
  };
  let total = 0;
  const matrix = (name: string, rows: number, cols: number): void => {
    const pool = poolFor(cols);
    const rb = rowBytes(type, cols);
    const rowsPerChunk = Math.max(1, Math.floor((4 << 20) / rb));
    const tensorSeed = Math.floor(random() * 2 ** 32);
    writer.addTensor(name, [cols, rows], type, function* () {
      const pick = seededRandom(tensorSeed);
      for (let start = 0; start < rows; start += rowsPerChunk) {
        const n = Math.min(rowsPerChunk, rows - start);
        const chunk = new Uint8Array(n * rb);
        for (let r = 0; r < n; r++) chunk.set(pool[Math.floor(pick() * poolRows)], r * rb);
        yield chunk;
      }
    });
    total += rows * rb;
  };
  const ones = (name: string, n: number): void => {
    writer.addTensor(name, [n], TensorType.F32, f32Bytes(new Float32Array(n).fill(1)));
    total += 4 * n;
  };

  const headDim = shape.dim / shape.nHeads;
  matrix('token_embd.weight', shape.vocabSize, shape.dim);
  ones('output_norm.weight', shape.dim);
  matrix('output.weight', shape.vocabSize, shape.dim);
  for (let l = 0; l < shape.nLayers; l++) {
    const b = `blk.${l}.`;
    ones(`${b}attn_norm.weight`, shape.dim);
    matrix(`${b}attn_q.weight`, shape.nHeads * headDim, shape.dim);
    matrix(`${b}attn_k.weight`, shape.nKvHeads * headDim, shape.dim);
    matrix(`${b}attn_v.weight`, shape.nKvHeads * headDim, shape.dim);
    matrix(`${b}attn_output.weight`, shape.dim, shape.nHeads * headDim);
    ones(`${b}ffn_norm.weight`, shape.dim);
    matrix(`${b}ffn_gate.weight`, shape.hiddenDim, shape.dim);
    matrix(`${b}ffn_up.weight`, shape.hiddenDim, shape.dim);
    matrix(`${b}ffn_down.weight`, shape.dim, shape.hiddenDim);
  }
  await writer.writeFile(path);
  return { path, bytes: total };
}
