import { aLawDecode, aLawDecodeSample, aLawEncode, muLawDecode, muLawDecodeSample, muLawEncode } from '../g711';
import {
  deinterleave,
  downmixToMono,
  float32ToInt16,
  float32ToPcm16Bytes,
  int16ToFloat32,
  interleave,
  pcm16BytesToFloat32,
  pcm16BytesToInt16,
} from '../pcm';

describe('PCM conversions', () => {
  it('maps 16-bit samples to [-1, 1) and back without loss', () => {
    const samples = Int16Array.from([-32768, -1, 0, 1, 12345, 32767]);
    const floats = int16ToFloat32(samples);
    expect(floats[0]).toBe(-1);
    expect(floats[5]).toBeCloseTo(32767 / 32768, 9);
    expect(Array.from(float32ToInt16(floats))).toEqual(Array.from(samples));
  });

  it('clips out-of-range floats and turns NaN into silence', () => {
    expect(Array.from(float32ToInt16(Float32Array.from([1.5, -2, NaN, 0.5])))).toEqual([32767, -32768, 0, 16384]);
  });

  it('reads little-endian bytes at any alignment and refuses an odd byte count', () => {
    const bytes = Buffer.from([0xff, 0x01, 0x80, 0x00, 0x7f]);
    expect(Array.from(pcm16BytesToInt16(bytes.subarray(1, 5)))).toEqual([-32767, 0x7f00]);
    expect(() => pcm16BytesToInt16(bytes)).toThrow(RangeError);
    expect(Array.from(pcm16BytesToFloat32(float32ToPcm16Bytes(Float32Array.from([0.25]))))).toEqual([0.25]);
  });

  it('interleaves, splits and down-mixes channels', () => {
    const stereo = interleave([Float32Array.from([1, 0.5]), Float32Array.from([0, -0.5])]);
    expect(Array.from(stereo)).toEqual([1, 0, 0.5, -0.5]);
    expect(deinterleave(stereo, 2).map((c) => Array.from(c))).toEqual([
      [1, 0.5],
      [0, -0.5],
    ]);
    expect(Array.from(downmixToMono(stereo, 2))).toEqual([0.5, 0]);
    expect(() => downmixToMono(Float32Array.from([1, 2, 3]), 2)).toThrow(RangeError);
  });
});

describe('G.711', () => {
  it('decodes the reference code points', () => {
    expect(muLawDecodeSample(0xff)).toBe(0);
    expect(muLawDecodeSample(0x00)).toBe(-32124);
    expect(muLawDecodeSample(0x80)).toBe(32124);
    expect(aLawDecodeSample(0xd5)).toBe(8);
    expect(aLawDecodeSample(0x55)).toBe(-8);
    expect(aLawDecodeSample(0xaa)).toBe(32256);
  });

  it('round-trips every code (decode then encode is the identity, bar mu-law negative zero)', () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const mu = muLawEncode(muLawDecode(codes));
    for (let i = 0; i < 256; i++) expect(i === 0x7f ? 0xff : i).toBe(mu[i]);
    expect(Array.from(aLawEncode(aLawDecode(codes)))).toEqual(Array.from(codes));
  });

  it('keeps the companding error within a few per cent of the signal', () => {
    const ramp = Int16Array.from({ length: 200 }, (_, i) => Math.round((i - 100) * 320));
    for (const [encode, decode] of [
      [muLawEncode, muLawDecode],
      [aLawEncode, aLawDecode],
    ] as const) {
      const back = decode(encode(ramp));
      ramp.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(Math.max(64, Math.abs(v) * 0.04)));
    }
  });
});
