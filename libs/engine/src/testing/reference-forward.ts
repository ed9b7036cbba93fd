// Float64 reference forward pass of a llama-family model in plain loops (in the spirit of llama2.c), used by the
// specs to check the native engine's logits. Token by token with a KV cache: slow, obvious, and exact enough.

/** Hyper-parameters of a reference model (the same meaning as the GGUF `<arch>.*` keys). */
export interface ReferenceConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  vocabSize: number;
  rmsEps: number;
  ropeFreqBase: number;
  /** 1 / rope.scaling.factor for linear scaling; 1 when unscaled. */
  ropeFreqScale: number;
  /** Rotated dimensions per head (rope.dimension_count); headDim when absent. */
  nRot: number;
  /** true: rotate (x[i], x[i + nRot/2]) as Qwen2 does; false: adjacent pairs as llama GGUFs expect. */
  ropeNeox: boolean;
  /**
   * Quantised weight types are multiplied with 8-bit activations, as in ggml and our CPU kernels: matmul inputs are
   * rounded to int8 with one scale (max|x| / 127) per block of this many values (32: Q8_0 for Q4_0/Q8_0 weights,
   * 256: Q8_K for K-quants). Absent: float activations (F32/F16/BF16 weights).
   */
  activationBlock?: number;
}

/** Weight matrices are row-major: row r (output element r) of a [rows x cols] matrix starts at r * cols. */
export interface ReferenceLayer {
  attnNorm: Float64Array; // [dim]
  wq: Float64Array; // [nHeads*headDim x dim]
  wk: Float64Array; // [nKvHeads*headDim x dim]
  wv: Float64Array; // [nKvHeads*headDim x dim]
  wo: Float64Array; // [dim x nHeads*headDim]
  bq?: Float64Array;
  bk?: Float64Array;
  bv?: Float64Array;
  ffnNorm: Float64Array; // [dim]
  wGate: Float64Array; // [hiddenDim x dim]
  wUp: Float64Array; // [hiddenDim x dim]
  wDown: Float64Array; // [dim x hiddenDim]
}

export interface ReferenceWeights {
  config: ReferenceConfig;
  tokenEmbedding: Float64Array; // [vocabSize x dim]
  layers: ReferenceLayer[];
  outputNorm: Float64Array; // [dim]
  output: Float64Array; // [vocabSize x dim] (the embedding itself when tied)
  ropeFreqFactors?: Float64Array; // [nRot/2], divides each pair's frequency
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** x rounded to int8 levels with one scale per block (see ReferenceConfig.activationBlock). */
export function quantizeActivations(x: Float64Array, block: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let start = 0; start < x.length; start += block) {
    let amax = 0;
    for (let i = start; i < start + block; i++) amax = Math.max(amax, Math.abs(x[i]));
    if (amax === 0) continue;
    const d = amax / 127;
    for (let i = start; i < start + block; i++) out[i] = Math.max(-127, Math.min(127, roundHalfEven(x[i] / d))) * d;
  }
  return out;
}

function matvec(
  w: Float64Array,
  input: Float64Array,
  rows: number,
  cols: number,
  out: Float64Array,
  activationBlock: number | undefined,
): void {
  const x = activationBlock ? quantizeActivations(input, activationBlock) : input;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) sum += w[base + c] * x[c];
    out[r] = sum;
  }
}

function rmsNorm(x: Float64Array, weight: Float64Array, eps: number, out: Float64Array): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * scale * weight[i];
}

function addInPlace(x: Float64Array, y: Float64Array | undefined): void {
  if (!y) return;
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

/**
 * Rotary position embedding in place on vec [nHeads x headDim]: the first nRot dimensions of each head, as adjacent
 * pairs (x[2i], x[2i+1]) or NeoX pairs (x[i], x[i + nRot/2]), by freqScale * pos * freqBase^(-2i/nRot) (divided by
 * factors[i] when given).
 */
export function rotatePairs(
  vec: Float64Array,
  nHeads: number,
  headDim: number,
  nRot: number,
  pos: number,
  freqBase: number,
  freqScale: number,
  neox: boolean,
  factors?: Float64Array,
): void {
  const half = nRot / 2;
  for (let h = 0; h < nHeads; h++) {
    const base = h * headDim;
    for (let i = 0; i < half; i++) {
      let theta = freqScale * pos * Math.pow(freqBase, (-2 * i) / nRot);
      if (factors) theta /= factors[i];
      const cos = Math.cos(theta);
      const sin = Math.sin(theta);
      const a = neox ? base + i : base + 2 * i;
      const b = neox ? base + i + half : base + 2 * i + 1;
      const x0 = vec[a];
      const x1 = vec[b];
      vec[a] = x0 * cos - x1 * sin;
      vec[b] = x0 * sin + x1 * cos;
    }
  }
}

function rope(vec: Float64Array, nHeads: number, pos: number, w: ReferenceWeights): void {
  const { headDim, nRot, ropeFreqBase, ropeFreqScale, ropeNeox } = w.config;
  rotatePairs(vec, nHeads, headDim, nRot, pos, ropeFreqBase, ropeFreqScale, ropeNeox, w.ropeFreqFactors);
}

/** A sequence evaluated by the reference model; feed tokens one at a time and read the logits after each. */
export class ReferenceSequence {
  private readonly keyCache: Float64Array[][] = []; // [layer][pos] -> [nKvHeads*headDim]
  private readonly valueCache: Float64Array[][] = [];

  constructor(private readonly w: ReferenceWeights) {
    for (let l = 0; l < w.config.nLayers; l++) {
      this.keyCache.push([]);
      this.valueCache.push([]);
    }
  }

  get position(): number {
    return this.keyCache[0]?.length ?? 0;
  }

  /** Runs one token at the next position and returns its logits [vocabSize]. */
  step(token: number): Float64Array {
    const c = this.w.config;
    const logits = new Float64Array(c.vocabSize);
    matvec(this.w.output, this.hidden(token), c.vocabSize, c.dim, logits, c.activationBlock);
    return logits;
  }

  /** Runs one token at the next position and returns its hidden state after the final norm [dim]. */
  hidden(token: number): Float64Array {
    const { config: c, layers } = this.w;
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new Error(`reference forward: token id ${token} out of range`);
    }
    const pos = this.position;
    const ab = c.activationBlock;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const x = this.w.tokenEmbedding.slice(token * c.dim, (token + 1) * c.dim);
    const xb = new Float64Array(c.dim);
    const q = new Float64Array(qDim);
    const attnOut = new Float64Array(qDim);
    const proj = new Float64Array(c.dim);
    const gate = new Float64Array(c.hiddenDim);
    const up = new Float64Array(c.hiddenDim);
    const headsPerKv = c.nHeads / c.nKvHeads;
    const scale = 1 / Math.sqrt(c.headDim);

    for (let l = 0; l < c.nLayers; l++) {
      const L = layers[l];
      rmsNorm(x, L.attnNorm, c.rmsEps, xb);
      const k = new Float64Array(kvDim);
      const v = new Float64Array(kvDim);
      matvec(L.wq, xb, qDim, c.dim, q, ab);
      matvec(L.wk, xb, kvDim, c.dim, k, ab);
      matvec(L.wv, xb, kvDim, c.dim, v, ab);
      addInPlace(q, L.bq);
      addInPlace(k, L.bk);
      addInPlace(v, L.bv);
      rope(q, c.nHeads, pos, this.w);
      rope(k, c.nKvHeads, pos, this.w);
      this.keyCache[l].push(k);
      this.valueCache[l].push(v);

      for (let h = 0; h < c.nHeads; h++) {
        const kvOffset = Math.floor(h / headsPerKv) * c.headDim;
        const qOffset = h * c.headDim;
        const scores = new Float64Array(pos + 1);
        let max = -Infinity;
        for (let t = 0; t <= pos; t++) {
          const kt = this.keyCache[l][t];
          let dot = 0;
          for (let i = 0; i < c.headDim; i++) dot += q[qOffset + i] * kt[kvOffset + i];
          scores[t] = dot * scale;
          if (scores[t] > max) max = scores[t];
        }
        let sum = 0;
        for (let t = 0; t <= pos; t++) {
          scores[t] = Math.exp(scores[t] - max);
          sum += scores[t];
        }
        for (let i = 0; i < c.headDim; i++) attnOut[qOffset + i] = 0;
        for (let t = 0; t <= pos; t++) {
          const weight = scores[t] / sum;
          const vt = this.valueCache[l][t];
          for (let i = 0; i < c.headDim; i++) attnOut[qOffset + i] += weight * vt[kvOffset + i];
        }
      }
      matvec(L.wo, attnOut, c.dim, qDim, proj, ab);
      addInPlace(x, proj);

      rmsNorm(x, L.ffnNorm, c.rmsEps, xb);
      matvec(L.wGate, xb, c.hiddenDim, c.dim, gate, ab);
      matvec(L.wUp, xb, c.hiddenDim, c.dim, up, ab);
      for (let i = 0; i < c.hiddenDim; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      matvec(L.wDown, gate, c.dim, c.hiddenDim, proj, ab);
      addInPlace(x, proj);
    }

    rmsNorm(x, this.w.outputNorm, c.rmsEps, xb);
    return xb;
  }
}

/** Logits at every position of `tokens`, evaluated from an empty context. */
export function referenceForward(weights: ReferenceWeights, tokens: readonly number[]): Float64Array[] {
  const seq = new ReferenceSequence(weights);
  return tokens.map((t) => seq.step(t));
}

/** Greedy (argmax) continuation of `prompt` for `maxTokens` tokens, stopping early at any id in `stopIds`. */
export function referenceGreedy(
  weights: ReferenceWeights,
  prompt: readonly number[],
  maxTokens: number,
  stopIds: readonly number[] = [],
): number[] {
  const seq = new ReferenceSequence(weights);
  let logits: Float64Array | undefined;
  for (const t of prompt) logits = seq.step(t);
  const out: number[] = [];
  while (logits && out.length < maxTokens) {
    const next = argmax(logits);
    if (stopIds.includes(next)) break;
    out.push(next);
    if (out.length === maxTokens) break;
    logits = seq.step(next);
  }
  return out;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** ||a - b|| / ||b||: the relative L2 error of `a` against the reference `b`. */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeL2: lengths differ (${a.length} vs ${b.length})`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.sqrt(norm);
}
