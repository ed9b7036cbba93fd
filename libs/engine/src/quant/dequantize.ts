// Row dequantisers, bit-exact with ggml's dequantize_row_* (every product below is exact in float64 and rounded
// to float32 once, which is what ggml's float32 arithmetic yields). Block layouts: native/src/tensor/tensor-type.h.
import { f16Table } from './float16';
import { QK_K, TensorType, rowBytes } from './tensor-type';

const fround = Math.fround;

/** Decodes `n` elements from `bytes` (exactly rowBytes(type, n) of them are read). */
export function dequantizeRow(type: TensorType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  dequantizeRowInto(type, bytes, 0, n, out);
  return out;
}

/** Decodes `n` elements starting at byte `offset` of `bytes` into `out[0 .. n)`. */
export function dequantizeRowInto(
  type: TensorType,
  bytes: Uint8Array,
  offset: number,
  n: number,
  out: Float32Array,
): void {
  const nbytes = rowBytes(type, n);
  if (offset < 0 || offset + nbytes > bytes.length) {
    throw new Error(`dequantize: ${nbytes} bytes at offset ${offset} exceed the ${bytes.length} bytes given`);
  }
  if (out.length < n) throw new Error(`dequantize: output holds ${out.length} values, ${n} needed`);
  switch (type) {
    case TensorType.F32:
      return dequantizeF32(bytes, offset, n, out);
    case TensorType.F16:
      return dequantizeF16(bytes, offset, n, out);
    case TensorType.BF16:
      return dequantizeBF16(bytes, offset, n, out);
    case TensorType.Q8_0:
      return dequantizeQ8_0(bytes, offset, n, out);
    case TensorType.Q4_0:
      return dequantizeQ4_0(bytes, offset, n, out);
    case TensorType.Q4_K:
      return dequantizeQ4_K(bytes, offset, n, out);
    case TensorType.Q6_K:
      return dequantizeQ6_K(bytes, offset, n, out);
    default:
      throw new Error(`dequantize: unsupported tensor type id ${String(type)}`);
  }
}

// One function per type keeps each hot loop monomorphic for the JIT.

function dequantizeF32(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  if ((bytes.byteOffset + offset) % 4 === 0) {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset + offset, n));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 4 * n);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
}

function dequantizeF16(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  const table = f16Table();
  if ((bytes.byteOffset + offset) % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset + offset, n);
    for (let i = 0; i < n; i++) out[i] = table[halves[i]];
    return;
  }
  for (let i = 0; i < n; i++) out[i] = table[bytes[offset + 2 * i] | (bytes[offset + 2 * i + 1] << 8)];
}

function dequantizeBF16(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) bits[i] = (bytes[offset + 2 * i] | (bytes[offset + 2 * i + 1] << 8)) << 16;
}

function dequantizeQ8_0(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  const table = f16Table();
  for (let b = 0; b < n / 32; b++) {
    const o = offset + b * 34;
    const d = table[bytes[o] | (bytes[o + 1] << 8)];
    const y = b * 32;
    for (let j = 0; j < 32; j++) out[y + j] = d * ((bytes[o + 2 + j] << 24) >> 24);
  }
}

function dequantizeQ4_0(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  const table = f16Table();
  for (let b = 0; b < n / 32; b++) {
    const o = offset + b * 18;
    const d = table[bytes[o] | (bytes[o + 1] << 8)];
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 2 + j];
      out[y + j] = d * ((q & 0xf) - 8);
      out[y + j + 16] = d * ((q >> 4) - 8);
    }
  }
}

function dequantizeQ4_K(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  const table = f16Table();
  for (let b = 0; b < n / QK_K; b++) {
    const o = offset + b * 144;
    const d = table[bytes[o] | (bytes[o + 1] << 8)];
    const dmin = table[bytes[o + 2] | (bytes[o + 3] << 8)];
    const sc = o + 4;
    for (let j = 0; j < 4; j++) {
      // sub-blocks 2j and 2j+1 share 32 bytes of qs: low nibbles, then high nibbles
      const d1 = fround(d * scaleK4(bytes, sc, 2 * j));
      const m1 = fround(dmin * minK4(bytes, sc, 2 * j));
      const d2 = fround(d * scaleK4(bytes, sc, 2 * j + 1));
      const m2 = fround(dmin * minK4(bytes, sc, 2 * j + 1));
      const q = o + 16 + 32 * j;
      const y = b * QK_K + 64 * j;
      for (let l = 0; l < 32; l++) {
        const byte = bytes[q + l];
        out[y + l] = d1 * (byte & 0xf) - m1; // exact product, one rounding on store
        out[y + 32 + l] = d2 * (byte >> 4) - m2;
      }
    }
  }
}

function dequantizeQ6_K(bytes: Uint8Array, offset: number, n: number, out: Float32Array): void {
  const table = f16Table();
  for (let b = 0; b < n / QK_K; b++) {
    const o = offset + b * 210;
    const d = table[bytes[o + 208] | (bytes[o + 209] << 8)];
    for (let half = 0; half < 2; half++) {
      const ql = o + 64 * half;
      const qh = o + 128 + 32 * half;
      const sc = o + 192 + 8 * half;
      const y = b * QK_K + 128 * half;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = bytes[qh + l];
        const low = bytes[ql + l];
        const high = bytes[ql + l + 32];
        // d * scale is exact in float32; the product with q is rounded once on store, as in ggml
        out[y + l] = d * int8(bytes[sc + is]) * (((low & 0xf) | ((h & 3) << 4)) - 32);
        out[y + l + 32] = d * int8(bytes[sc + is + 2]) * (((high & 0xf) | (((h >> 2) & 3) << 4)) - 32);
        out[y + l + 64] = d * int8(bytes[sc + is + 4]) * (((low >> 4) | (((h >> 4) & 3) << 4)) - 32);
        out[y + l + 96] = d * int8(bytes[sc + is + 6]) * (((high >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

function int8(byte: number): number {
  return (byte << 24) >> 24;
}

/** 6-bit scale of sub-block j (0..7) from the 12 packed bytes at `sc` (ggml's get_scale_min_k4, first result). */
export function scaleK4(bytes: Uint8Array, sc: number, j: number): number {
  return j < 4 ? bytes[sc + j] & 63 : (bytes[sc + j + 4] & 0xf) | ((bytes[sc + j - 4] >> 6) << 4);
}

/** 6-bit min of sub-block j (0..7) (ggml's get_scale_min_k4, second result). */
export function minK4(bytes: Uint8Array, sc: number, j: number): number {
  return j < 4 ? bytes[sc + j + 4] & 63 : (bytes[sc + j + 4] >> 4) | ((bytes[sc + j] >> 6) << 4);
}
