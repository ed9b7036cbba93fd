import { dequantizeRow } from './dequantize';
import { f16ToF32, f32ToF16 } from './float16';
import { quantizeRow, quantizeRowInto } from './quantize';
import { QK_K, SUPPORTED_TENSOR_TYPES, TensorType, rowBytes, tensorTypeTraits } from './tensor-type';

/** Deterministic N(0, 1) samples (mulberry32 + Box-Muller). */
function gaussian(n: number, seed: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

function relativeRmse(x: Float32Array, y: Float32Array): number {
  let err = 0;
  let ref = 0;
  for (let i = 0; i < x.length; i++) {
    err += (x[i] - y[i]) ** 2;
    ref += x[i] ** 2;
  }
  return Math.sqrt(err / ref);
}

function f16Bytes(value: number): [number, number] {
  const h = f32ToF16(value);
  return [h & 0xff, h >>> 8];
}

describe('block geometry', () => {
  it('matches ggml (and native/src/tensor/tensor-type.h)', () => {
    const expected: Array<[TensorType, number, number, number]> = [
      [TensorType.F32, 0, 1, 4],
      [TensorType.F16, 1, 1, 2],
      [TensorType.Q4_0, 2, 32, 18],
      [TensorType.Q8_0, 8, 32, 34],
      [TensorType.Q4_K, 12, 256, 144],
      [TensorType.Q6_K, 14, 256, 210],
      [TensorType.BF16, 30, 1, 2],
    ];
    for (const [type, id, elements, bytes] of expected) {
      expect(type as number).toBe(id);
      expect(tensorTypeTraits(type).blockElements).toBe(elements);
      expect(tensorTypeTraits(type).blockBytes).toBe(bytes);
    }
    expect(rowBytes(TensorType.Q4_K, 4096)).toBe(16 * 144);
    expect(() => rowBytes(TensorType.Q4_0, 48)).toThrow('Q4_0: row length 48 is not a multiple of the block size 32');
  });
});

describe('quantize/dequantize round trip', () => {
  // Relative RMS error bounds on Gaussian data with outliers, each a little above what the encoding achieves.
  const bounds: Array<[string, TensorType, number]> = [
    ['F32', TensorType.F32, 0],
    ['F16', TensorType.F16, 3e-4],
    ['BF16', TensorType.BF16, 2.5e-3],
    ['Q8_0', TensorType.Q8_0, 8e-3],
    ['Q6_K', TensorType.Q6_K, 2.3e-2],
    ['Q4_K', TensorType.Q4_K, 8.5e-2],
    ['Q4_0', TensorType.Q4_0, 1.25e-1],
  ];
  it.each(bounds)('%s stays within its relative RMS error bound', (_name, type, bound) => {
    const x = gaussian(8192, 1234 + type, 0.02);
    for (let i = 0; i < x.length; i += 997) x[i] *= 12; // outliers, as real weights have
    const bytes = quantizeRow(type, x);
    expect(bytes.length).toBe(rowBytes(type, x.length));
    const y = dequantizeRow(type, bytes, x.length);
    const err = relativeRmse(x, y);
    expect(err).toBeLessThanOrEqual(bound);
    if (type !== TensorType.F32) expect(err).toBeGreaterThan(bound / 20); // the bound is tight enough to mean something
  });

  it('orders the quantised types by precision: Q8_0 < Q6_K < Q4_K < Q4_0', () => {
    const x = gaussian(QK_K * 16, 42);
    const err = (type: TensorType): number => relativeRmse(x, dequantizeRow(type, quantizeRow(type, x), x.length));
    expect(err(TensorType.Q8_0)).toBeLessThan(err(TensorType.Q6_K));
    expect(err(TensorType.Q6_K)).toBeLessThan(err(TensorType.Q4_K));
    expect(err(TensorType.Q4_K)).toBeLessThan(err(TensorType.Q4_0));
  });

  it('is exact for F32 and decodes zero rows to zeros for every type', () => {
    const x = gaussian(512, 7);
    expect(Array.from(dequantizeRow(TensorType.F32, quantizeRow(TensorType.F32, x), 512))).toEqual(Array.from(x));
    for (const type of SUPPORTED_TENSOR_TYPES) {
      const zeros = new Float32Array(512);
      expect(Array.from(dequantizeRow(type, quantizeRow(type, zeros), 512)).every((v) => v === 0)).toBe(true);
    }
  });

  it('keeps K-quant rows with a constant or one-signed block accurate', () => {
    for (const type of [TensorType.Q4_K, TensorType.Q6_K]) {
      const positive = gaussian(QK_K, 99).map((v) => Math.abs(v) + 1);
      expect(relativeRmse(positive, dequantizeRow(type, quantizeRow(type, positive), QK_K))).toBeLessThan(0.05);
      const constant = new Float32Array(QK_K).fill(-0.75);
      expect(relativeRmse(constant, dequantizeRow(type, quantizeRow(type, constant), QK_K))).toBeLessThan(0.02);
    }
  });

  it('writes into a larger buffer at an offset and refuses ragged rows and short outputs', () => {
    const x = gaussian(64, 3);
    const out = new Uint8Array(100).fill(0xee);
    expect(quantizeRowInto(TensorType.Q8_0, x, out, 10)).toBe(68);
    expect(out[9]).toBe(0xee);
    expect(out[78]).toBe(0xee);
    expect(Array.from(out.subarray(10, 78))).toEqual(Array.from(quantizeRow(TensorType.Q8_0, x)));
    expect(() => quantizeRowInto(TensorType.Q8_0, x, out, 40)).toThrow('do not fit');
    expect(() => quantizeRow(TensorType.Q6_K, new Float32Array(300))).toThrow('Q6_K: row length 300');
    expect(() => dequantizeRow(TensorType.Q4_0, new Uint8Array(17), 32)).toThrow('18 bytes at offset 0 exceed');
  });
});

describe('Q8_0 and Q4_0 quantisers reproduce ggml bytes', () => {
  it('Q8_0 rounds halves away from zero (roundf)', () => {
    const x = new Float32Array(32);
    x.set([127, 2.5, -2.5, 0.5, -0.5, 1.5, -126.5, 0.49999997]);
    const q = quantizeRow(TensorType.Q8_0, x); // amax 127 -> d = 1, id = 1
    expect([q[0], q[1]]).toEqual(f16Bytes(1));
    const codes = Array.from(q.subarray(2, 10), (b) => (b << 24) >> 24);
    expect(codes).toEqual([127, 3, -3, 1, -1, 2, -127, 0]);
  });

  it('Q4_0 uses the signed extreme and truncates x/d + 8.5', () => {
    const x = new Float32Array(32);
    x.set([-8, 7, 7.5, -0.5, 0.49, -7.6]); // max |x| is -8 -> d = 1
    x[16] = 3;
    const q = quantizeRow(TensorType.Q4_0, x);
    expect([q[0], q[1]]).toEqual(f16Bytes(1));
    const low = Array.from(q.subarray(2, 8), (b) => b & 15);
    expect(low).toEqual([0, 15, 15, 8, 8, 0]);
    expect(q[2] >> 4).toBe(11); // x[16] = 3 -> 11
  });

  it('stores d rounded to f16, as ggml does', () => {
    const x = gaussian(32, 5);
    const q = quantizeRow(TensorType.Q8_0, x);
    const amax = Math.max(...Array.from(x, Math.abs));
    expect(q[0] | (q[1] << 8)).toBe(f32ToF16(Math.fround(amax / 127)));
  });
});

describe('dequantisers decode hand-built blocks exactly', () => {
  it('Q4_K: 6-bit packed scales and mins, low then high nibbles', () => {
    const block = new Uint8Array(144);
    block.set(f16Bytes(1), 0); // d
    block.set(f16Bytes(0.5), 2); // dmin
    const sc = 4;
    block[sc + 0] = 3 | (1 << 6); // sub-block 0 scale 3; high bits of sub-block 4's scale = 1
    block[sc + 4] = 5 | (2 << 6); // sub-block 0 min 5; high bits of sub-block 4's min = 2
    block[sc + 1] = 2; // sub-block 1 scale
    block[sc + 5] = 4; // sub-block 1 min
    block[sc + 8] = 0x97; // sub-block 4: scale low 7, min low 9 -> scale 23, min 41
    block[16 + 0] = 0xa3; // element 0 uses q 3 (sub-block 0), element 32 uses q 10 (sub-block 1)
    block[16 + 64] = 0x0f; // element 128 uses q 15 (sub-block 4)
    const y = dequantizeRow(TensorType.Q4_K, block, QK_K);
    expect(y[0]).toBe(1 * 3 * 3 - 0.5 * 5);
    expect(y[1]).toBe(-0.5 * 5);
    expect(y[32]).toBe(2 * 10 - 0.5 * 4);
    expect(y[128]).toBe(23 * 15 - 0.5 * 41);
    expect(y[160]).toBe(0); // sub-block 5: scale 0, min 0
  });

  it('Q4_K rounds d1 * q - m1 once to float32', () => {
    const block = new Uint8Array(144);
    block.set(f16Bytes(0.1), 0);
    block.set(f16Bytes(0.3), 2);
    block[4] = 63;
    block[8] = 61;
    block[16] = 0x0d;
    const d = f16ToF32(f32ToF16(0.1));
    const dmin = f16ToF32(f32ToF16(0.3));
    const y = dequantizeRow(TensorType.Q4_K, block, QK_K);
    expect(y[0]).toBe(Math.fround(Math.fround(d * 63) * 13 - Math.fround(dmin * 61)));
  });

  it('Q6_K: 4 low bits in ql, 2 high bits in qh, signed 8-bit scales', () => {
    const block = new Uint8Array(210);
    block.set(f16Bytes(0.5), 208);
    const scales = 192;
    block[scales + 0] = 0xfd; // -3
    block[scales + 4] = 7;
    block[scales + 7] = 0x80; // -128
    block[0] = 0x21; // element 0 low bits 1, element 64 low bits 2
    block[128] = 0b0000_0010; // element 0 high bits 2 -> q = 33 - 32 = 1; element 64 high bits 0 -> q = 2 - 32
    block[48] = 0xf0; // element 16 + 96 = 112 low bits 15
    block[128 + 16] = 0b1100_0000; // element 112 high bits 3 -> q = 63 - 32 = 31
    const y = dequantizeRow(TensorType.Q6_K, block, QK_K);
    expect(y[0]).toBe(0.5 * -3 * 1);
    expect(y[64]).toBe(0.5 * 7 * -30);
    expect(y[112]).toBe(0.5 * -128 * 31);
    expect(y[1]).toBe(0.5 * -3 * -32);
  });

  it('Q8_0, Q4_0, F16 and BF16 decode their fields', () => {
    const q8 = new Uint8Array(34);
    q8.set(f16Bytes(0.25), 0);
    q8[2] = 0x80; // -128
    q8[3] = 5;
    const y8 = dequantizeRow(TensorType.Q8_0, q8, 32);
    expect([y8[0], y8[1], y8[2]]).toEqual([-32, 1.25, 0]);
    const q4 = new Uint8Array(18);
    q4.set(f16Bytes(2), 0);
    q4[2] = 0xf0;
    const y4 = dequantizeRow(TensorType.Q4_0, q4, 32);
    expect([y4[0], y4[16], y4[1]]).toEqual([-16, 14, -16]);
    expect(Array.from(dequantizeRow(TensorType.F16, Uint8Array.from([0x00, 0x3c, 0x00, 0xc0]), 2))).toEqual([1, -2]);
    expect(Array.from(dequantizeRow(TensorType.BF16, Uint8Array.from([0x80, 0x3f, 0x40, 0xc0]), 2))).toEqual([1, -3]);
  });
});
