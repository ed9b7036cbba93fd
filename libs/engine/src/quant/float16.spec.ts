import {
  bf16ArrayToF32,
  bf16BitsFromF32Bits,
  bf16ToF32,
  f16ArrayToF32,
  f16ToF32,
  f32ArrayToBf16,
  f32ArrayToF16,
  f32Bits,
  f32FromBits,
  f32ToBf16,
  f32ToF16,
} from './float16';

describe('F16 conversion', () => {
  it('encodes landmark values exactly', () => {
    expect(f32ToF16(0)).toBe(0x0000);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(0.1)).toBe(0x2e66);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519.99)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // halfway to the next (unrepresentable) value rounds to infinity
    expect(f32ToF16(1e9)).toBe(0x7c00);
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    expect(f32ToF16(NaN)).toBe(0x7e00);
    expect(f32ToF16(2 ** -14)).toBe(0x0400);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal goes to even (0)
    expect(f32ToF16(1.5 * 2 ** -24)).toBe(0x0002); // tie between 1 and 2 subnormal units goes to even (2)
    expect(f32ToF16(1e-10)).toBe(0x0000);
  });

  it('rounds ties to even on normal values', () => {
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
  });

  it('round-trips all 63488 finite halves and rounds every midpoint to the even neighbour', () => {
    const failures: string[] = [];
    for (let h = 0; h < 0x7c00; h++) {
      for (const sign of [0, 0x8000]) {
        if (f32ToF16(f16ToF32(h | sign)) !== (h | sign)) failures.push(`round trip of 0x${(h | sign).toString(16)}`);
      }
      if (h < 0x7bff) {
        const lo = f16ToF32(h);
        const hi = f16ToF32(h + 1);
        const mid = (lo + hi) / 2; // exactly representable in float32
        const midBits = f32Bits(mid);
        const even = (h & 1) === 0 ? h : h + 1;
        if (f32FromBits(midBits) !== mid) failures.push(`midpoint after 0x${h.toString(16)} not a float32`);
        if (f32ToF16(mid) !== even) failures.push(`midpoint after 0x${h.toString(16)} did not round to even`);
        if (f32ToF16(f32FromBits(midBits + 1)) !== h + 1)
          failures.push(`just above midpoint after 0x${h.toString(16)}`);
        if (f32ToF16(f32FromBits(midBits - 1)) !== h) failures.push(`just below midpoint after 0x${h.toString(16)}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });

  it('decodes specials', () => {
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16ToF32(0x7e00))).toBe(true);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
  });

  it('converts arrays the same way as scalars', () => {
    const values = Float32Array.from([0, 1.5, -3.25, 1e-7, 70000, 0.333]);
    const halves = f32ArrayToF16(values);
    expect(Array.from(halves)).toEqual(Array.from(values, (v) => f32ToF16(v)));
    expect(Array.from(f16ArrayToF32(halves))).toEqual(Array.from(halves, (h) => f16ToF32(h)));
  });
});

describe('BF16 conversion', () => {
  it('rounds to nearest even as ggml does', () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16BitsFromF32Bits(0x3f808000)).toBe(0x3f80); // tie, even stays
    expect(bf16BitsFromF32Bits(0x3f818000)).toBe(0x3f82); // tie, odd rounds up
    expect(bf16BitsFromF32Bits(0x3f808001)).toBe(0x3f81);
    expect(bf16BitsFromF32Bits(0x7f7fffff)).toBe(0x7f80); // largest float rounds to infinity
    expect(bf16BitsFromF32Bits(0x7f800001)).toBe(0x7fc0); // signalling NaN made quiet
    expect(bf16BitsFromF32Bits(0xffc00000)).toBe(0xffc0);
  });

  it('decodes by shifting and round-trips through arrays', () => {
    expect(bf16ToF32(0xc040)).toBe(-3);
    const values = Float32Array.from([1, -2.5, 3.14159, 1e-30, 6e4]);
    const encoded = f32ArrayToBf16(values);
    expect(Array.from(encoded)).toEqual(Array.from(values, (v) => f32ToBf16(v)));
    const decoded = bf16ArrayToF32(encoded);
    for (let i = 0; i < values.length; i++) {
      expect(Math.abs(decoded[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -8);
    }
  });
});
