// IEEE half (F16) and bfloat16 (BF16) conversions, bit-exact with ggml: float -> half rounds to nearest even,
// float -> bf16 rounds to nearest even with NaN kept quiet (ggml_compute_fp32_to_bf16), half -> float is exact.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Float32 bit pattern of `x` (rounded to float32 first). */
export function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

export function f32FromBits(bits: number): number {
  scratchU32[0] = bits >>> 0;
  return scratchF32[0];
}

/** Half bit pattern from a float32 bit pattern, round to nearest even; NaN becomes 0x7e00 (sign kept). */
export function f16BitsFromF32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (abs >= 0x47800000) return sign | 0x7c00; // >= 65536: overflows to infinity
  if (abs < 0x38800000) {
    // Result is a half subnormal (or rounds up to the smallest normal): round |x| * 2^24 to an integer, ties to even.
    scratchU32[0] = abs;
    const scaled = scratchF32[0] * 16777216; // exact in float64
    let r = Math.floor(scaled);
    const frac = scaled - r;
    if (frac > 0.5 || (frac === 0.5 && (r & 1) === 1)) r += 1;
    return sign | r;
  }
  const mantissa = abs & 0x7fffff;
  let half = (((abs >>> 23) - 112) << 10) | (mantissa >>> 13); // rebias exponent 127 -> 15
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half += 1; // a carry may correctly reach infinity
  return sign | half;
}

export function f32ToF16(x: number): number {
  return f16BitsFromF32Bits(f32Bits(x));
}

// Every half maps to one float, so a 64 Ki-entry table makes decoding a single load.
let halfTable: Float32Array | null = null;

function buildHalfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 31) v = mant === 0 ? Infinity : NaN;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    table[h] = sign * v;
  }
  return table;
}

export function f16Table(): Float32Array {
  if (halfTable === null) halfTable = buildHalfTable();
  return halfTable;
}

export function f16ToF32(half: number): number {
  return f16Table()[half & 0xffff];
}

/** BF16 bit pattern of a float32 bit pattern, exactly as ggml_compute_fp32_to_bf16. */
export function bf16BitsFromF32Bits(bits: number): number {
  const u = bits >>> 0;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff; // NaN: force quiet
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}

export function f32ToBf16(x: number): number {
  return bf16BitsFromF32Bits(f32Bits(x));
}

export function bf16ToF32(bits: number): number {
  return f32FromBits((bits & 0xffff) << 16);
}

/** Converts a whole array to half bit patterns (round to nearest even). */
export function f32ArrayToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f16BitsFromF32Bits(bits[i]);
  return dst;
}

export function f16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = f16Table();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]];
  return dst;
}

export function f32ArrayToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = bf16BitsFromF32Bits(bits[i]);
  return dst;
}

export function bf16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return dst;
}
