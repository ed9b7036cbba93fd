import { g711Decode, g711Encode, g711Silence } from '../g711';

// ITU-T G.711 Table 2a (µ-law) and Table 1a (A-law): decoder output values per segment and interval, in the
// standard's units (µ-law: ±8159 scale, ×4 for 16-bit PCM; A-law: ±4096 scale, ×8 for 16-bit PCM).
const MU_LAW_SEGMENT_FIRST = [0, 33, 99, 231, 495, 1023, 2079, 4191];
const MU_LAW_SEGMENT_LAST = [30, 93, 219, 471, 975, 1983, 3999, 8031];
const A_LAW_SEGMENT_FIRST = [1, 33, 66, 132, 264, 528, 1056, 2112];
const A_LAW_SEGMENT_LAST = [31, 63, 126, 252, 504, 1008, 2016, 4032];

/** µ-law characters carry the inverted segment/interval bits; 0x80..0xFF are positive. */
function muLawCode(positive: boolean, segment: number, interval: number): number {
  return (positive ? 0x80 : 0) | (0x7f - ((segment << 4) | interval));
}

/** A-law characters carry sign (1 = positive), segment and interval, with the even bits inverted (0x55). */
function aLawCode(positive: boolean, segment: number, interval: number): number {
  return ((positive ? 0x80 : 0) | (segment << 4) | interval) ^ 0x55;
}

function decodeOne(codec: 'PCMU' | 'PCMA', code: number): number {
  return g711Decode(codec, Uint8Array.of(code))[0];
}

function encodeOne(codec: 'PCMU' | 'PCMA', sample: number): number {
  return g711Encode(codec, Int16Array.of(sample))[0];
}

describe('G.711 µ-law (PCMU)', () => {
  it('decodes every character to the ITU-T table 2a output value', () => {
    for (let segment = 0; segment < 8; segment++) {
      expect(decodeOne('PCMU', muLawCode(true, segment, 0))).toBe(4 * MU_LAW_SEGMENT_FIRST[segment]);
      expect(decodeOne('PCMU', muLawCode(true, segment, 15))).toBe(4 * MU_LAW_SEGMENT_LAST[segment]);
      for (let interval = 0; interval < 16; interval++) {
        const value = 4 * (((2 * interval + 33) << segment) - 33);
        expect(decodeOne('PCMU', muLawCode(true, segment, interval))).toBe(value);
        expect(decodeOne('PCMU', muLawCode(false, segment, interval))).toBe(value === 0 ? 0 : -value);
      }
    }
  });

  it('encodes each table output value back to its own character', () => {
    for (let code = 0; code < 256; code++) {
      if (code === 0x7f) continue; // negative zero decodes to 0, which encodes as positive zero (0xFF)
      expect(encodeOne('PCMU', decodeOne('PCMU', code))).toBe(code);
    }
    expect(encodeOne('PCMU', 0)).toBe(0xff);
  });

  it('is monotonic and clips at the top of the last segment', () => {
    let previous = decodeOne('PCMU', encodeOne('PCMU', -32768));
    for (let s = -32768; s < 32768; s += 7) {
      const value = decodeOne('PCMU', encodeOne('PCMU', s));
      expect(value).toBeGreaterThanOrEqual(previous);
      previous = value;
    }
    expect(encodeOne('PCMU', 32767)).toBe(0x80);
    expect(encodeOne('PCMU', -32768)).toBe(0x00);
    expect(g711Silence('PCMU')).toBe(0xff);
  });
});

describe('G.711 A-law (PCMA)', () => {
  it('decodes every character to the ITU-T table 1a output value', () => {
    for (let segment = 0; segment < 8; segment++) {
      expect(decodeOne('PCMA', aLawCode(true, segment, 0))).toBe(8 * A_LAW_SEGMENT_FIRST[segment]);
      expect(decodeOne('PCMA', aLawCode(true, segment, 15))).toBe(8 * A_LAW_SEGMENT_LAST[segment]);
      for (let interval = 0; interval < 16; interval++) {
        const value = 8 * (segment === 0 ? 2 * interval + 1 : (2 * interval + 33) << (segment - 1));
        expect(decodeOne('PCMA', aLawCode(true, segment, interval))).toBe(value);
        expect(decodeOne('PCMA', aLawCode(false, segment, interval))).toBe(value === 0 ? 0 : -value);
      }
    }
  });

  it('encodes each table output value back to its own character', () => {
    for (let code = 0; code < 256; code++) expect(encodeOne('PCMA', decodeOne('PCMA', code))).toBe(code);
    expect(g711Silence('PCMA')).toBe(0xd5);
    expect(decodeOne('PCMA', 0xd5)).toBe(8);
  });

  it('keeps a full-scale sine within the quantisation step of each segment', () => {
    const pcm = new Int16Array(8000);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(30000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
    for (const codec of ['PCMA', 'PCMU'] as const) {
      const back = g711Decode(codec, g711Encode(codec, pcm));
      for (let i = 0; i < pcm.length; i++) {
        // The step doubles per segment: the error never exceeds half the step (1/32 of the value) plus the floor.
        expect(Math.abs(back[i] - pcm[i])).toBeLessThanOrEqual(Math.abs(pcm[i]) / 32 + 16);
      }
    }
  });
});
