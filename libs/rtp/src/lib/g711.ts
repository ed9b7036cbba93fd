// G.711 µ-law (PCMU) and A-law (PCMA) at 8 kHz, as ITU-T G.711 tables 1a/2a: 16-bit linear PCM in and out (the
// 13/14-bit ITU values scaled by 8/4). Both directions are table lookups built once.
import type { G711Codec } from './media-format';

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

function ulawEncodeSample(sample: number): number {
  let pcm = sample;
  const sign = pcm < 0 ? 0x80 : 0;
  if (sign) pcm = -pcm;
  if (pcm > ULAW_CLIP) pcm = ULAW_CLIP;
  pcm += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (pcm & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (pcm >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function ulawDecodeSample(code: number): number {
  const u = ~code & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4)) - ULAW_BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

function alawEncodeSample(sample: number): number {
  // A-law works on 13 bits; the sign bit is set for positive values and even bits are inverted (0x55).
  let pcm = sample >> 3;
  let mask: number;
  if (pcm >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    pcm = -pcm - 1;
  }
  let segment = 0;
  while (segment < 8 && pcm > 0x1f << segment) segment++;
  if (segment >= 8) return 0x7f ^ mask;
  let code = segment << 4;
  code |= segment < 2 ? (pcm >> 1) & 0x0f : (pcm >> segment) & 0x0f;
  return code ^ mask;
}

function alawDecodeSample(code: number): number {
  const a = code ^ 0x55;
  let t = (a & 0x0f) << 4;
  const segment = (a & 0x70) >> 4;
  if (segment === 0) {
    t += 8;
  } else {
    t += 0x108;
    if (segment > 1) t <<= segment - 1;
  }
  return a & 0x80 ? t : -t;
}

function buildTables(encode: (s: number) => number, decode: (c: number) => number) {
  const enc = new Uint8Array(65536);
  for (let s = -32768; s < 32768; s++) enc[s + 32768] = encode(s);
  const dec = new Int16Array(256);
  for (let c = 0; c < 256; c++) dec[c] = decode(c);
  return { enc, dec };
}

const TABLES: Record<G711Codec, { enc: Uint8Array; dec: Int16Array }> = {
  PCMU: buildTables(ulawEncodeSample, ulawDecodeSample),
  PCMA: buildTables(alawEncodeSample, alawDecodeSample),
};

/** Encodes 16-bit PCM at 8 kHz into G.711 bytes (one byte per sample). */
export function g711Encode(codec: G711Codec, pcm: Int16Array, out = new Uint8Array(pcm.length)): Uint8Array {
  const enc = TABLES[codec].enc;
  for (let i = 0; i < pcm.length; i++) out[i] = enc[pcm[i] + 32768];
  return out;
}

/** Decodes G.711 bytes into 16-bit PCM at 8 kHz. */
export function g711Decode(codec: G711Codec, bytes: Uint8Array, out = new Int16Array(bytes.length)): Int16Array {
  const dec = TABLES[codec].dec;
  for (let i = 0; i < bytes.length; i++) out[i] = dec[bytes[i]];
  return out;
}

/** The code of digital silence (what a quiet line sends): 0xFF for µ-law, 0xD5 for A-law. */
export function g711Silence(codec: G711Codec): number {
  return codec === 'PCMU' ? 0xff : 0xd5;
}

/** Static payload types of RFC 3551. */
export const G711_STATIC_PAYLOAD_TYPE: Record<G711Codec, number> = { PCMU: 0, PCMA: 8 };
