// Row quantisers for every supported type, following ggml's reference quantisers (quantize_row_*_ref).
// Q8_0 and Q4_0 repeat ggml's float32 arithmetic step by step (Math.fround), so they produce ggml's exact bytes;
// Q4_K and Q6_K follow ggml's search (make_qkx2_quants / make_qx_quants) in float64 with closed-form errors,
// which gives a valid encoding of the same quality much faster. Block layouts: native/src/tensor/tensor-type.h.
import { f32ArrayToBf16, f32ArrayToF16, f32ToF16, f16ToF32 } from './float16';
import { QK_K, TensorType, rowBytes } from './tensor-type';

const fround = Math.fround;
// Adding and subtracting 1.5 * 2^52 rounds a float64 to the nearest integer, ties to even (ggml's nearest_int).
const ROUND_MAGIC = 6755399441055744.0;
const GROUP_MAX_EPS = 1e-15;

/** Quantises one row (length a multiple of the type's block size) into a new buffer. */
export function quantizeRow(type: TensorType, x: Float32Array): Uint8Array {
  const out = new Uint8Array(rowBytes(type, x.length));
  quantizeRowInto(type, x, out, 0);
  return out;
}

/** Quantises `x` into `out` starting at byte `offset`; returns the number of bytes written. */
export function quantizeRowInto(type: TensorType, x: Float32Array, out: Uint8Array, offset: number): number {
  const nbytes = rowBytes(type, x.length);
  if (offset < 0 || offset + nbytes > out.length) {
    throw new Error(`quantize: ${nbytes} bytes at offset ${offset} do not fit an output of ${out.length} bytes`);
  }
  switch (type) {
    case TensorType.F32:
      new Uint8Array(out.buffer, out.byteOffset + offset, nbytes).set(new Uint8Array(x.buffer, x.byteOffset, nbytes));
      break;
    case TensorType.F16:
    case TensorType.BF16: {
      const aligned = (out.byteOffset + offset) % 2 === 0;
      const dst = aligned ? new Uint16Array(out.buffer, out.byteOffset + offset, x.length) : new Uint16Array(x.length);
      if (type === TensorType.F16) f32ArrayToF16(x, dst);
      else f32ArrayToBf16(x, dst);
      if (!aligned) out.set(new Uint8Array(dst.buffer), offset);
      break;
    }
    case TensorType.Q8_0:
      quantizeQ8_0(x, out, offset);
      break;
    case TensorType.Q4_0:
      quantizeQ4_0(x, out, offset);
      break;
    case TensorType.Q4_K:
      quantizeQ4_K(x, out, offset);
      break;
    case TensorType.Q6_K:
      quantizeQ6_K(x, out, offset);
      break;
    default:
      throw new Error(`quantize: unsupported tensor type id ${String(type)}`);
  }
  return nbytes;
}

function writeF16(out: Uint8Array, pos: number, value: number): number {
  const h = f32ToF16(value);
  out[pos] = h & 0xff;
  out[pos + 1] = h >>> 8;
  return h;
}

/** C's roundf: half away from zero (exact for float32 inputs of this magnitude). */
function roundAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

// block_q8_0 { f16 d; i8 qs[32]; } : x = d * q
function quantizeQ8_0(x: Float32Array, out: Uint8Array, offset: number): void {
  const nb = x.length / 32;
  for (let b = 0; b < nb; b++) {
    const base = b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[base + j]);
      if (a > amax) amax = a;
    }
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const o = offset + b * 34;
    writeF16(out, o, d);
    for (let j = 0; j < 32; j++) out[o + 2 + j] = roundAway(fround(x[base + j] * id)) & 0xff;
  }
}

// block_q4_0 { f16 d; u8 qs[16]; } : x[j] = d * ((qs[j] & 15) - 8), x[j + 16] = d * ((qs[j] >> 4) - 8)
function quantizeQ4_0(x: Float32Array, out: Uint8Array, offset: number): void {
  const nb = x.length / 32;
  for (let b = 0; b < nb; b++) {
    const base = b * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fround(max / -8);
    const id = d !== 0 ? fround(1 / d) : 0;
    const o = offset + b * 18;
    writeF16(out, o, d);
    for (let j = 0; j < 16; j++) {
      const x0 = fround(x[base + j] * id);
      const x1 = fround(x[base + 16 + j] * id);
      const q0 = Math.min(15, Math.trunc(fround(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(fround(x1 + 8.5)));
      out[o + 2 + j] = q0 | (q1 << 4);
    }
  }
}

// Scratch for the K-quant searches (single-threaded, reused across calls to avoid allocation per block).
const subWeights = new Float64Array(32);
const subShifted = new Float64Array(32); // x - min
const subWeightedX = new Float64Array(32); // w * x
const blockLevels = new Uint8Array(QK_K);
const blockScales = new Float64Array(16);
const blockMins = new Float64Array(16);
let subMin = 0; // second result of makeQkx2Quants (ggml's *the_min)

/**
 * ggml's make_qkx2_quants for one sub-block x[base .. base+n): finds scale s and min m (m <= 0) minimising the
 * weighted squared error of x ≈ s * L + m with L in [0, nmax], trying nstep + 1 candidate scales around nmax.
 * Returns s and sets subMin = -m. The levels themselves are not returned: Q4_K re-derives them from the
 * quantised scales, as ggml does. Errors use closed forms of the weighted sums instead of a second pass.
 */
function makeQkx2Quants(
  x: Float32Array,
  base: number,
  n: number,
  nmax: number,
  weights: Float64Array,
  rmin: number,
  rdelta: number,
  nstep: number,
): number {
  let min = x[base];
  let max = x[base];
  let sumW = 0;
  let sumX = 0;
  let sumX2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[base + i];
    if (v < min) min = v;
    if (v > max) max = v;
    const w = weights[i];
    const wv = w * v;
    subWeightedX[i] = wv;
    sumW += w;
    sumX += wv;
    sumX2 += wv * v;
  }
  if (min > 0) min = 0;
  if (max === min) {
    subMin = -min;
    return 0;
  }
  for (let i = 0; i < n; i++) subShifted[i] = x[base + i] - min;
  const range = max - min;
  let iscale = nmax / range;
  let scale = 1 / iscale;
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    let l = iscale * subShifted[i] + ROUND_MAGIC - ROUND_MAGIC;
    if (l > nmax) l = nmax;
    const diff = scale * l + min - x[base + i];
    bestError += weights[i] * diff * diff;
  }
  for (let step = 0; step <= nstep; step++) {
    iscale = (rmin + rdelta * step + nmax) / range;
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      // x - min >= 0 and iscale > 0, so only the upper clamp can bite
      let l = iscale * subShifted[i] + ROUND_MAGIC - ROUND_MAGIC;
      if (l > nmax) l = nmax;
      const wl = weights[i] * l;
      sumL += wl;
      sumL2 += wl * l;
      sumXL += subWeightedX[i] * l;
    }
    const D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale = (sumW * sumXL - sumX * sumL) / D;
      let thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      // sum w (s*l + m - x)^2 expanded over the sums already gathered.
      const curError =
        thisScale * thisScale * sumL2 +
        2 * thisScale * thisMin * sumL -
        2 * thisScale * sumXL +
        thisMin * thisMin * sumW -
        2 * thisMin * sumX +
        sumX2;
      if (curError < bestError) {
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  subMin = -min;
  return scale;
}

/** ggml's nearest_int on a float64: round half to even. */
function nearestInt(v: number): number {
  return v + ROUND_MAGIC - ROUND_MAGIC;
}

// block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128]; }: 8 sub-blocks of 32, each with a 6-bit scale sc and
// 6-bit min m packed into scales[12]; x = d * sc * q - dmin * m with q in [0, 15].
function quantizeQ4_K(x: Float32Array, out: Uint8Array, offset: number): void {
  const nb = x.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const base = b * QK_K;
    const o = offset + b * 144;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const sb = base + 32 * j;
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 += x[sb + l] * x[sb + l];
      const avX = Math.sqrt(sumX2 / 32);
      for (let l = 0; l < 32; l++) subWeights[l] = avX + Math.abs(x[sb + l]);
      const scale = makeQkx2Quants(x, sb, 32, 15, subWeights, -1, 0.1, 20);
      blockScales[j] = scale;
      blockMins[j] = subMin;
      if (scale > maxScale) maxScale = scale;
      if (subMin > maxMin) maxMin = subMin;
    }
    const invScale = maxScale > 0 ? 63 / maxScale : 0;
    const invMin = maxMin > 0 ? 63 / maxMin : 0;
    const sc = o + 4;
    out.fill(0, sc, sc + 12);
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(invScale * blockScales[j]));
      const lm = Math.min(63, nearestInt(invMin * blockMins[j]));
      if (j < 4) {
        out[sc + j] = ls;
        out[sc + j + 4] = lm;
      } else {
        out[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        out[sc + j - 4] |= (ls >> 4) << 6;
        out[sc + j] |= (lm >> 4) << 6;
      }
    }
    const dBits = writeF16(out, o, maxScale / 63);
    const dminBits = writeF16(out, o + 2, maxMin / 63);
    const d = f16ToF32(dBits);
    const dmin = f16ToF32(dminBits);
    // Re-derive the levels against the scales as they will actually be decoded (6-bit, f16 super-scales).
    for (let j = 0; j < 8; j++) {
      const sbScale = j < 4 ? out[sc + j] & 63 : (out[sc + j + 4] & 0xf) | ((out[sc + j - 4] >> 6) << 4);
      const sbMin = j < 4 ? out[sc + j + 4] & 63 : (out[sc + j + 4] >> 4) | ((out[sc + j] >> 6) << 4);
      const ds = fround(d * sbScale);
      if (ds === 0) {
        blockLevels.fill(0, 32 * j, 32 * j + 32); // ggml leaves these as found by the search; any level decodes the same
        continue;
      }
      const dm = fround(dmin * sbMin);
      for (let i = 0; i < 32; i++) {
        const l = nearestInt((x[base + 32 * j + i] + dm) / ds);
        blockLevels[32 * j + i] = l < 0 ? 0 : l > 15 ? 15 : l;
      }
    }
    const qs = o + 16;
    for (let j = 0; j < QK_K; j += 64) {
      const q = qs + j / 2;
      for (let l = 0; l < 32; l++) out[q + l] = blockLevels[j + l] | (blockLevels[j + l + 32] << 4);
    }
  }
}

/**
 * ggml's make_qx_quants with rmse_type 1 (weights x^2), returning only the scale: symmetric levels in
 * [-nmax, nmax - 1], trying 18 candidate inverse scales around -nmax / max. (Q6_K re-derives the levels.)
 */
function makeQxScale(x: Float32Array, base: number, n: number, nmax: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const v = x[base + i];
    const ax = Math.abs(v);
    if (ax > amax) {
      amax = ax;
      max = v;
    }
    subWeights[i] = v * v;
    subWeightedX[i] = v * v * v;
  }
  if (amax < GROUP_MAX_EPS) return 0;
  const lo = -nmax;
  const hi = nmax - 1;
  let scale = 0;
  let best = 0;
  for (let is = 0; is <= 18; is++) {
    // is = 0 is ggml's first pass (iscale = -nmax / max); the rest are its steps -9..-1, 1..9
    const step = is === 0 ? 0 : is <= 9 ? is - 10 : is - 9;
    const iscale = -(nmax + 0.1 * step) / max;
    let sumLX = 0;
    let sumL2 = 0;
    for (let i = 0; i < n; i++) {
      let l = iscale * x[base + i] + ROUND_MAGIC - ROUND_MAGIC;
      l = l < lo ? lo : l > hi ? hi : l;
      sumLX += subWeightedX[i] * l;
      sumL2 += subWeights[i] * l * l;
    }
    if (is === 0) {
      scale = sumL2 !== 0 ? sumLX / sumL2 : 0;
      best = scale * sumLX;
    } else if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
      scale = sumLX / sumL2;
      best = scale * sumLX;
    }
  }
  return scale;
}

// block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; }: 16 sub-blocks of 16 with an 8-bit signed scale;
// x = d * scale * (q - 32), q 6 bits (low 4 in ql, high 2 in qh).
function quantizeQ6_K(x: Float32Array, out: Uint8Array, offset: number): void {
  const nb = x.length / QK_K;
  for (let b = 0; b < nb; b++) {
    const base = b * QK_K;
    const o = offset + b * 210;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxScale(x, base + 16 * ib, 16, 32);
      blockScales[ib] = scale;
      if (Math.abs(scale) > maxAbsScale) {
        maxAbsScale = Math.abs(scale);
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      out.fill(0, o, o + 210); // all zero: d = 0 (f16 +0)
      continue;
    }
    const iscale = -128 / maxScale;
    const dBits = writeF16(out, o + 208, 1 / iscale);
    const d = f16ToF32(dBits);
    for (let ib = 0; ib < 16; ib++) {
      const s = Math.min(127, nearestInt(iscale * blockScales[ib]));
      out[o + 192 + ib] = s & 0xff;
    }
    for (let j = 0; j < 16; j++) {
      const s = (out[o + 192 + j] << 24) >> 24; // as int8
      const ds = fround(d * s);
      if (ds === 0) {
        blockLevels.fill(32, 16 * j, 16 * j + 16);
        continue;
      }
      for (let i = 0; i < 16; i++) {
        const l = nearestInt(x[base + 16 * j + i] / ds);
        blockLevels[16 * j + i] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      }
    }
    for (let j = 0; j < QK_K; j += 128) {
      const ql = o + j / 2;
      const qh = o + 128 + j / 4;
      for (let l = 0; l < 32; l++) {
        const q1 = blockLevels[j + l];
        const q2 = blockLevels[j + l + 32];
        const q3 = blockLevels[j + l + 64];
        const q4 = blockLevels[j + l + 96];
        out[ql + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[ql + l + 32] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[qh + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
}
