// Float64 reference forward pass of the BERT-family encoders the engine runs (bert, nomic-bert), from the published
// architectures, in plain loops: embeddings -> LayerNorm -> post-LN blocks -> pooling. Used by the specs to check
// the native encoder's embeddings.
import { rotatePairs } from './reference-forward';
import {
  gelu,
  layerNorm,
  linear,
  scaledDotProductAttention,
  type RefLayerNorm,
  type RefLinear,
} from './whisper-reference';

export type BertArchitecture = 'bert' | 'nomic-bert';
export type ReferencePooling = 'mean' | 'cls' | 'last';

export interface BertReferenceConfig {
  architecture: BertArchitecture;
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  vocabSize: number;
  /** attention.layer_norm_epsilon */
  normEps: number;
  /** nomic-bert's rotary base (rope.freq_base). */
  ropeFreqBase: number;
  /** 8-bit activations for quantised weights, as ReferenceConfig.activationBlock. */
  activationBlock?: number;
}

export interface BertReferenceLayer {
  /** bert: separate projections with biases; nomic-bert: one fused [3*dim x dim] projection (rows q, k, v). */
  q?: RefLinear;
  k?: RefLinear;
  v?: RefLinear;
  qkv?: RefLinear;
  out: RefLinear;
  attnOutNorm: RefLayerNorm;
  up: RefLinear;
  /** nomic-bert's SwiGLU gate: silu(gate(x)) * up(x); absent: gelu(up(x)). */
  gate?: RefLinear;
  down: RefLinear;
  outNorm: RefLayerNorm;
}

export interface BertReferenceWeights {
  config: BertReferenceConfig;
  tokenEmbedding: Float64Array; // [vocabSize x dim]
  positionEmbedding?: Float64Array; // bert: [contextLength x dim]
  tokenTypeEmbedding?: Float64Array; // row 0 (every token is of type 0): [dim]
  embeddingNorm: RefLayerNorm;
  layers: BertReferenceLayer[];
}

/** The final hidden state of every token of one input, [n x dim]. */
export function bertReferenceHidden(w: BertReferenceWeights, tokens: readonly number[]): Float64Array {
  const c = w.config;
  const n = tokens.length;
  const d = c.dim;
  const ab = c.activationBlock;
  let x: Float64Array = new Float64Array(n * d);
  tokens.forEach((token, t) => {
    if (!Number.isInteger(token) || token < 0 || token >= c.vocabSize) {
      throw new Error(`bert reference: token id ${token} out of range`);
    }
    for (let i = 0; i < d; i++) {
      let v = w.tokenEmbedding[token * d + i];
      if (w.positionEmbedding) v += w.positionEmbedding[t * d + i];
      if (w.tokenTypeEmbedding) v += w.tokenTypeEmbedding[i];
      x[t * d + i] = v;
    }
  });
  x = layerNorm(x, n, d, w.embeddingNorm, c.normEps);

  const headDim = d / c.nHeads;
  for (const L of w.layers) {
    let q: Float64Array, k: Float64Array, v: Float64Array;
    if (L.qkv) {
      const qkv = linear(x, n, L.qkv, ab);
      q = new Float64Array(n * d);
      k = new Float64Array(n * d);
      v = new Float64Array(n * d);
      for (let t = 0; t < n; t++) {
        q.set(qkv.subarray(t * 3 * d, t * 3 * d + d), t * d);
        k.set(qkv.subarray(t * 3 * d + d, t * 3 * d + 2 * d), t * d);
        v.set(qkv.subarray(t * 3 * d + 2 * d, t * 3 * d + 3 * d), t * d);
      }
    } else if (L.q && L.k && L.v) {
      q = linear(x, n, L.q, ab);
      k = linear(x, n, L.k, ab);
      v = linear(x, n, L.v, ab);
    } else {
      throw new Error('bert reference: a layer needs q, k and v or a fused qkv');
    }
    if (c.architecture === 'nomic-bert') {
      // NeoX-style rotary over the whole head: (x[i], x[i + headDim/2]) rotated by pos * base^(-2i/headDim).
      for (let t = 0; t < n; t++) {
        rotatePairs(q.subarray(t * d, (t + 1) * d), c.nHeads, headDim, headDim, t, c.ropeFreqBase, 1, true);
        rotatePairs(k.subarray(t * d, (t + 1) * d), c.nHeads, headDim, headDim, t, c.ropeFreqBase, 1, true);
      }
    }
    const attn = linear(scaledDotProductAttention(q, n, k, v, n, d, c.nHeads, false), n, L.out, ab);
    for (let i = 0; i < x.length; i++) attn[i] += x[i];
    x = layerNorm(attn, n, d, L.attnOutNorm, c.normEps);

    const up = linear(x, n, L.up, ab);
    if (L.gate) {
      const gate = linear(x, n, L.gate, ab);
      for (let i = 0; i < up.length; i++) up[i] *= gate[i] / (1 + Math.exp(-gate[i]));
    } else {
      for (let i = 0; i < up.length; i++) up[i] = gelu(up[i]);
    }
    const ffn = linear(up, n, L.down, ab);
    for (let i = 0; i < x.length; i++) ffn[i] += x[i];
    x = layerNorm(ffn, n, d, L.outNorm, c.normEps);
  }
  return x;
}

/** Rows [n x dim] pooled to one vector (mean, first or last row), then scaled to unit length if asked. */
export function poolReference(
  rows: Float64Array,
  n: number,
  dim: number,
  pooling: ReferencePooling,
  normalize: boolean,
): Float64Array {
  const out = new Float64Array(dim);
  const first = pooling === 'last' ? n - 1 : 0;
  const last = pooling === 'mean' ? n - 1 : first;
  for (let r = first; r <= last; r++) for (let i = 0; i < dim; i++) out[i] += rows[r * dim + i];
  for (let i = 0; i < dim; i++) out[i] /= last - first + 1;
  if (normalize) {
    const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0));
    if (norm > 0) for (let i = 0; i < dim; i++) out[i] /= norm;
  }
  return out;
}

/** The embedding of one input, as BertModel::embed computes it. */
export function bertReferenceEmbedding(
  w: BertReferenceWeights,
  tokens: readonly number[],
  pooling: ReferencePooling,
  normalize: boolean,
): Float64Array {
  return poolReference(bertReferenceHidden(w, tokens), tokens.length, w.config.dim, pooling, normalize);
}
