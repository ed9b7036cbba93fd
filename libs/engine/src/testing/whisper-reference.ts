// Float64 reference of Whisper (openai/whisper audio.py + model.py) in plain loops, written from the published
// architecture: the log-mel front end, the encoder, the decoder (a whole token sequence, causal) and the logits.
// Used by the specs to check the native engine; slow, obvious, and exact enough.
import { quantizeActivations } from './reference-forward';

export const WHISPER_SAMPLE_RATE = 16000;
export const WHISPER_N_FFT = 400;
export const WHISPER_HOP = 160;
export const WHISPER_FFT_BINS = WHISPER_N_FFT / 2 + 1; // 201
export const WHISPER_WINDOW_SAMPLES = 30 * WHISPER_SAMPLE_RATE; // 480 000
export const WHISPER_WINDOW_FRAMES = WHISPER_WINDOW_SAMPLES / WHISPER_HOP; // 3000

export interface WhisperHParams {
  nVocab: number;
  nAudioCtx: number;
  nAudioState: number;
  nAudioHead: number;
  nAudioLayer: number;
  nTextCtx: number;
  nTextState: number;
  nTextHead: number;
  nTextLayer: number;
  nMels: number;
}

/** A linear layer: weight row-major [out x in] (PyTorch layout), optional bias [out]. */
export interface RefLinear {
  w: Float64Array;
  b?: Float64Array;
  out: number;
  in: number;
}

export interface RefLayerNorm {
  w: Float64Array;
  b: Float64Array;
}

export interface RefAttention {
  query: RefLinear;
  key: RefLinear; // no bias
  value: RefLinear;
  out: RefLinear;
}

export interface RefBlock {
  attnLn: RefLayerNorm;
  attn: RefAttention;
  crossAttnLn?: RefLayerNorm; // decoder only
  crossAttn?: RefAttention;
  mlpLn: RefLayerNorm;
  mlp0: RefLinear; // d -> 4d
  mlp2: RefLinear; // 4d -> d
}

/** Conv weights [out][in][3] (PyTorch layout), bias [out]. */
export interface RefConv {
  w: Float64Array;
  b: Float64Array;
  out: number;
  in: number;
}

export interface WhisperReferenceWeights {
  hparams: WhisperHParams;
  /**
   * Q4_0 / Q8_0 matrices are multiplied with 8-bit activations in the engine (ggml's Q8_0 blocks of 32, one scale
   * max|x| / 127 each): the reference rounds every linear layer's input the same way. Absent: float activations.
   */
  activationBlock?: number;
  melFilters: Float64Array; // [nMels][201]
  conv1: RefConv;
  conv2: RefConv;
  encoderPositions: Float64Array; // [nAudioCtx][nAudioState]
  encoderBlocks: RefBlock[];
  lnPost: RefLayerNorm;
  tokenEmbedding: Float64Array; // [nVocab][nTextState]
  decoderPositions: Float64Array; // [nTextCtx][nTextState]
  decoderBlocks: RefBlock[];
  decoderLn: RefLayerNorm;
}

// ----------------------------------------------------------------------------------------------------------------
// Front end (audio.py: log_mel_spectrogram)

/**
 * The log-mel spectrogram of the first 30 s window of `pcm` (16 kHz mono): 30 s of zeros appended, STFT with centre
 * reflect padding, periodic Hann window, |X|^2, last frame dropped, mel filters, log10 (floor 1e-10), clamp at the
 * global max - 8, (x + 4) / 4. Returns [nMels][3000] row-major.
 */
export function referenceLogMel(pcm: ArrayLike<number>, melFilters: ArrayLike<number>, nMels: number): Float64Array {
  const n = pcm.length;
  const total = n + WHISPER_WINDOW_SAMPLES; // appended zeros
  const pad = WHISPER_N_FFT / 2;
  // Padded signal: reflect at both ends (the right end reflects appended zeros, or samples when n is tiny).
  const sample = (i: number): number => (i >= 0 && i < n ? pcm[i] : 0);
  const padded = (j: number): number => {
    let i = j - pad;
    if (i < 0) i = -i;
    if (i >= total) i = 2 * (total - 1) - i;
    return sample(i);
  };
  const nFrames = Math.floor(total / WHISPER_HOP); // 1 + total / hop frames, the last dropped
  const window = new Float64Array(WHISPER_N_FFT);
  for (let i = 0; i < WHISPER_N_FFT; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / WHISPER_N_FFT);
  const cos = new Float64Array(WHISPER_N_FFT);
  const sin = new Float64Array(WHISPER_N_FFT);
  for (let i = 0; i < WHISPER_N_FFT; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / WHISPER_N_FFT);
    sin[i] = Math.sin((2 * Math.PI * i) / WHISPER_N_FFT);
  }
  const logFloor = -10;
  let globalMax = -Infinity;
  const frames = Math.min(nFrames, WHISPER_WINDOW_FRAMES);
  const out = new Float64Array(nMels * WHISPER_WINDOW_FRAMES).fill(logFloor);
  const frame = new Float64Array(WHISPER_N_FFT);
  const power = new Float64Array(WHISPER_FFT_BINS);
  for (let f = 0; f < nFrames; f++) {
    // Frames that only see zeros have power 0 everywhere: log10(1e-10) = -10 in every band.
    const start = f * WHISPER_HOP;
    let any = false;
    for (let i = 0; i < WHISPER_N_FFT; i++) {
      frame[i] = padded(start + i) * window[i];
      if (frame[i] !== 0) any = true;
    }
    if (!any) {
      globalMax = Math.max(globalMax, logFloor);
      if (f >= frames) {
        // Every later frame is silent too once the audio has ended.
        if (start - pad >= n) break;
      }
      continue;
    }
    for (let k = 0; k < WHISPER_FFT_BINS; k++) {
      let re = 0;
      let im = 0;
      for (let i = 0; i < WHISPER_N_FFT; i++) {
        const idx = (k * i) % WHISPER_N_FFT;
        re += frame[i] * cos[idx];
        im -= frame[i] * sin[idx];
      }
      power[k] = re * re + im * im;
    }
    for (let m = 0; m < nMels; m++) {
      let s = 0;
      for (let k = 0; k < WHISPER_FFT_BINS; k++) s += melFilters[m * WHISPER_FFT_BINS + k] * power[k];
      const v = Math.log10(Math.max(s, 1e-10));
      globalMax = Math.max(globalMax, v);
      if (f < frames) out[m * WHISPER_WINDOW_FRAMES + f] = v;
    }
  }
  const floor = globalMax - 8;
  for (let i = 0; i < out.length; i++) out[i] = (Math.max(out[i], floor) + 4) / 4;
  return out;
}

// ----------------------------------------------------------------------------------------------------------------
// Building blocks

/** erf to near float64 precision: Taylor series below 3, continued fraction for erfc above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** Row-wise LayerNorm of [rows x dim] (population variance), as GGML and PyTorch compute it. */
export function layerNorm(x: Float64Array, rows: number, dim: number, ln: RefLayerNorm, eps = 1e-5): Float64Array {
  const out = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i];
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[r * dim + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = (x[r * dim + i] - mean) * inv * ln.w[i] + ln.b[i];
  }
  return out;
}

/** x [rows x l.in] times l.w transposed (+ bias); activationBlock: 8-bit activations as ReferenceConfig says. */
export function linear(x: Float64Array, rows: number, l: RefLinear, activationBlock?: number): Float64Array {
  const out = new Float64Array(rows * l.out);
  if (activationBlock) {
    const q = new Float64Array(x.length);
    for (let r = 0; r < rows; r++)
      q.set(quantizeActivations(x.subarray(r * l.in, (r + 1) * l.in), activationBlock), r * l.in);
    x = q;
  }
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < l.out; o++) {
      let s = l.b ? l.b[o] : 0;
      const wo = o * l.in;
      const xr = r * l.in;
      for (let i = 0; i < l.in; i++) s += l.w[wo + i] * x[xr + i];
      out[r * l.out + o] = s;
    }
  }
  return out;
}

/**
 * Softmax(q k^T / sqrt(headDim)) v per head: q is [nq x d], k and v are [nk x d] (d = nHead * headDim); causal: query
 * row t sees key rows 0..t, otherwise all of them.
 */
export function scaledDotProductAttention(
  q: Float64Array,
  nq: number,
  k: Float64Array,
  v: Float64Array,
  nk: number,
  d: number,
  nHead: number,
  causal: boolean,
): Float64Array {
  const hd = d / nHead;
  const scale = 1 / Math.sqrt(hd); // Whisper scales q and k by hd^-0.25 each: the same product
  const ctx = new Float64Array(nq * d);
  const scores = new Float64Array(nk);
  for (let h = 0; h < nHead; h++) {
    for (let t = 0; t < nq; t++) {
      const last = causal ? t : nk - 1;
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let s = 0;
        for (let i = 0; i < hd; i++) s += q[t * d + h * hd + i] * k[j * d + h * hd + i];
        scores[j] = s * scale;
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) {
        scores[j] = Math.exp(scores[j] - max);
        sum += scores[j];
      }
      for (let j = 0; j <= last; j++) {
        const p = scores[j] / sum;
        for (let i = 0; i < hd; i++) ctx[t * d + h * hd + i] += p * v[j * d + h * hd + i];
      }
    }
  }
  return ctx;
}

/** Multi-head attention of nq query rows over nk key rows; causal: query row t sees key rows 0..t (offset 0). */
function attention(
  xq: Float64Array,
  nq: number,
  xkv: Float64Array,
  nk: number,
  a: RefAttention,
  nHead: number,
  causal: boolean,
  activationBlock?: number,
): Float64Array {
  const d = a.query.out;
  const q = linear(xq, nq, a.query, activationBlock);
  const k = linear(xkv, nk, a.key, activationBlock);
  const v = linear(xkv, nk, a.value, activationBlock);
  const ctx = scaledDotProductAttention(q, nq, k, v, nk, d, nHead, causal);
  return linear(ctx, nq, a.out, activationBlock);
}

function addInPlace(x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

function mlp(x: Float64Array, rows: number, b: RefBlock, activationBlock?: number): Float64Array {
  const h = linear(x, rows, b.mlp0, activationBlock);
  for (let i = 0; i < h.length; i++) h[i] = gelu(h[i]);
  return linear(h, rows, b.mlp2, activationBlock);
}

/** conv1d with kernel 3, padding 1; input [frames][in] (time-major), output [outFrames][out], then GELU. */
function convGelu(x: Float64Array, frames: number, c: RefConv, stride: number): { y: Float64Array; frames: number } {
  const outFrames = Math.floor((frames + 2 - 3) / stride) + 1;
  const y = new Float64Array(outFrames * c.out);
  for (let t = 0; t < outFrames; t++) {
    for (let o = 0; o < c.out; o++) {
      let s = c.b[o];
      for (let k = 0; k < 3; k++) {
        const src = t * stride + k - 1;
        if (src < 0 || src >= frames) continue;
        for (let i = 0; i < c.in; i++) s += c.w[(o * c.in + i) * 3 + k] * x[src * c.in + i];
      }
      y[t * c.out + o] = gelu(s);
    }
  }
  return { y, frames: outFrames };
}

// ----------------------------------------------------------------------------------------------------------------
// Encoder and decoder

/**
 * Encoder output [audioCtx][nAudioState] for a mel window [nMels][3000] (referenceLogMel's layout): the first
 * 2 * audioCtx frames go through the convolutions (audioCtx < nAudioCtx is whisper.cpp's reduced audio_ctx).
 */
export function referenceEncode(wt: WhisperReferenceWeights, mel: Float64Array, audioCtx?: number): Float64Array {
  const hp = wt.hparams;
  const ctx = audioCtx ?? hp.nAudioCtx;
  if (ctx < 1 || ctx > hp.nAudioCtx) throw new Error(`audioCtx ${ctx} outside 1..${hp.nAudioCtx}`);
  const frames = 2 * ctx;
  const x = new Float64Array(frames * hp.nMels);
  for (let t = 0; t < frames; t++) {
    for (let m = 0; m < hp.nMels; m++) x[t * hp.nMels + m] = mel[m * WHISPER_WINDOW_FRAMES + t];
  }
  const c1 = convGelu(x, frames, wt.conv1, 1);
  const c2 = convGelu(c1.y, c1.frames, wt.conv2, 2);
  const d = hp.nAudioState;
  const h = c2.y;
  for (let i = 0; i < ctx * d; i++) h[i] += wt.encoderPositions[i];
  for (const b of wt.encoderBlocks) {
    const a = layerNorm(h, ctx, d, b.attnLn);
    addInPlace(h, attention(a, ctx, a, ctx, b.attn, hp.nAudioHead, false, wt.activationBlock));
    addInPlace(h, mlp(layerNorm(h, ctx, d, b.mlpLn), ctx, b, wt.activationBlock));
  }
  return layerNorm(h, ctx, d, wt.lnPost);
}

/**
 * Logits [tokens.length][nVocab] of the decoder over `tokens` (positions 0..n-1) attending to `encoded`; with
 * lastOnly, only the last token's row.
 */
export function referenceDecode(
  wt: WhisperReferenceWeights,
  encoded: Float64Array,
  tokens: readonly number[],
  lastOnly = false,
): Float64Array[] {
  const hp = wt.hparams;
  const d = hp.nTextState;
  const n = tokens.length;
  const nk = encoded.length / hp.nAudioState;
  const x = new Float64Array(n * d);
  tokens.forEach((id, t) => {
    if (id < 0 || id >= hp.nVocab) throw new Error(`token ${id} outside the vocabulary`);
    for (let i = 0; i < d; i++) x[t * d + i] = wt.tokenEmbedding[id * d + i] + wt.decoderPositions[t * d + i];
  });
  for (const b of wt.decoderBlocks) {
    const a = layerNorm(x, n, d, b.attnLn);
    addInPlace(x, attention(a, n, a, n, b.attn, hp.nTextHead, true, wt.activationBlock));
    if (!b.crossAttn || !b.crossAttnLn) throw new Error('decoder block without cross-attention');
    const c = layerNorm(x, n, d, b.crossAttnLn);
    addInPlace(x, attention(c, n, encoded, nk, b.crossAttn, hp.nTextHead, false, wt.activationBlock));
    addInPlace(x, mlp(layerNorm(x, n, d, b.mlpLn), n, b, wt.activationBlock));
  }
  const normed = layerNorm(x, n, d, wt.decoderLn);
  const y = new Float64Array(normed.length);
  for (let t = 0; t < n; t++) {
    const row = normed.subarray(t * d, (t + 1) * d);
    y.set(wt.activationBlock ? quantizeActivations(row, wt.activationBlock) : row, t * d);
  }
  const logits: Float64Array[] = [];
  for (let t = lastOnly ? n - 1 : 0; t < n; t++) {
    const row = new Float64Array(hp.nVocab);
    for (let v = 0; v < hp.nVocab; v++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += wt.tokenEmbedding[v * d + i] * y[t * d + i];
      row[v] = s;
    }
    logits.push(row);
  }
  return logits;
}

export interface ReferenceWhisperGreedyOptions {
  /** The start-of-transcript sequence fed first. */
  initial: readonly number[];
  maxTokens: number;
  /** Never sampled (special tokens, timestamps without timestamps mode, non-speech symbols). */
  suppress: readonly number[];
  /** Suppressed at the first sampled position only (the blank token and end of text). */
  suppressAtStart: readonly number[];
  eot: number;
  /** Timestamp mode: Whisper's ApplyTimestampRules with the first timestamp token id (decoding.py). */
  timestampBegin?: number;
}

function logSumExp(x: Float64Array, from: number, to: number): number {
  let max = -Infinity;
  for (let i = from; i < to; i++) max = Math.max(max, x[i]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = from; i < to; i++) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

/** decoding.py's ApplyTimestampRules on one row of logits, given the tokens sampled so far. */
function applyTimestampRules(row: Float64Array, seq: readonly number[], begin: number, eot: number): void {
  const n = row.length;
  const lastTs = seq.length >= 1 && seq[seq.length - 1] >= begin;
  const penultimateTs = seq.length < 2 || seq[seq.length - 2] >= begin;
  if (lastTs) {
    if (penultimateTs) row.fill(-Infinity, begin, n);
    else row.fill(-Infinity, 0, eot);
  }
  const timestamps = seq.filter((t) => t >= begin);
  if (timestamps.length > 0) {
    const last = timestamps[timestamps.length - 1];
    row.fill(-Infinity, begin, lastTs && !penultimateTs ? last : last + 1);
  }
  if (seq.length === 0) {
    row.fill(-Infinity, 0, begin);
    row.fill(-Infinity, begin + 50 + 1, n); // max_initial_timestamp 1.0 s
  }
  const lse = logSumExp(row, 0, n);
  const tsLogprob = logSumExp(row, begin, n) - lse;
  let maxText = -Infinity;
  for (let i = 0; i < begin; i++) maxText = Math.max(maxText, row[i]);
  if (tsLogprob > maxText - lse) row.fill(-Infinity, 0, begin);
}

/** Greedy decoding (argmax after suppression) until end of text; end of text not included. */
export function referenceWhisperGreedy(
  wt: WhisperReferenceWeights,
  encoded: Float64Array,
  options: ReferenceWhisperGreedyOptions,
): number[] {
  const sampled: number[] = [];
  while (sampled.length < options.maxTokens) {
    const [row] = referenceDecode(wt, encoded, [...options.initial, ...sampled], true);
    for (const id of options.suppress) row[id] = -Infinity;
    if (sampled.length === 0) for (const id of options.suppressAtStart) row[id] = -Infinity;
    if (options.timestampBegin !== undefined) applyTimestampRules(row, sampled, options.timestampBegin, options.eot);
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    if (best === options.eot) break;
    sampled.push(best);
  }
  return sampled;
}

/**
 * tiktoken's encoding of `text` over `vocab` (regular tokens' bytes in rank order): GPT-2's pre-tokenizer regex, then
 * within each word the adjacent pair whose concatenation has the lowest rank is merged until none is left.
 */
export function referenceWhisperEncode(vocab: readonly Uint8Array[], text: string): number[] {
  const key = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
  const ranks = new Map<string, number>();
  vocab.forEach((b, id) => {
    if (!ranks.has(key(b))) ranks.set(key(b), id);
  });
  const words = text.match(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu) ?? [];
  const ids: number[] = [];
  for (const word of words) {
    let parts = [...Buffer.from(word, 'utf8')].map((b) => String.fromCharCode(b));
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = ranks.get(parts[i] + parts[i + 1]);
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      parts = [...parts.slice(0, at), parts[at] + parts[at + 1], ...parts.slice(at + 2)];
    }
    for (const part of parts) {
      const r = ranks.get(part);
      if (r === undefined) throw new Error(`no token for ${JSON.stringify(part)}`);
      ids.push(r);
    }
  }
  return ids;
}

/**
 * decoding.py's BeamSearchDecoder (patience 1, no length penalty) over the float64 decoder: each step every beam
 * proposes its beamSize + 1 best tokens; the beamSize best unfinished sequences go on, those ending in end of text are
 * set aside until beamSize have ended; the winner has the best summed log-probability / length.
 */
export function referenceWhisperBeam(
  wt: WhisperReferenceWeights,
  encoded: Float64Array,
  options: ReferenceWhisperGreedyOptions & { beamSize: number },
): { tokens: number[]; sumLogprob: number } {
  let beams: { seq: number[]; sum: number }[] = [{ seq: [], sum: 0 }];
  const finished: { seq: number[]; sum: number }[] = [];
  for (let step = 0; step < options.maxTokens; step++) {
    const candidates: { seq: number[]; sum: number }[] = [];
    for (const beam of beams) {
      const [row] = referenceDecode(wt, encoded, [...options.initial, ...beam.seq], true);
      for (const id of options.suppress) row[id] = -Infinity;
      if (beam.seq.length === 0) for (const id of options.suppressAtStart) row[id] = -Infinity;
      if (options.timestampBegin !== undefined) applyTimestampRules(row, beam.seq, options.timestampBegin, options.eot);
      const lse = logSumExp(row, 0, row.length);
      const ids = Array.from({ length: row.length }, (_, i) => i)
        .filter((i) => row[i] !== -Infinity)
        .sort((a, b) => row[b] - row[a] || a - b)
        .slice(0, options.beamSize + 1);
      for (const id of ids) candidates.push({ seq: [...beam.seq, id], sum: beam.sum + row[id] - lse });
    }
    candidates.sort((a, b) => b.sum - a.sum);
    const next: { seq: number[]; sum: number }[] = [];
    for (const c of candidates) {
      if (c.seq[c.seq.length - 1] === options.eot) {
        finished.push({ seq: c.seq.slice(0, -1), sum: c.sum });
        continue;
      }
      next.push(c);
      if (next.length === options.beamSize) break;
    }
    beams = next;
    if (finished.length >= options.beamSize || beams.length === 0) break;
  }
  if (finished.length < options.beamSize) finished.push(...beams);
  let best = finished[0];
  for (const f of finished) {
    if (f.sum / Math.max(1, f.seq.length) > best.sum / Math.max(1, best.seq.length)) best = f;
  }
  return { tokens: best.seq, sumLogprob: best.sum };
}
