// G.711 µ-law (PCMU) and A-law (PCMA) for the packet path: lookup tables built once from @sovren/audio's
// per-sample reference coders (ITU-T G.711), so a 20 ms packet costs 160 array reads each way.
import { aLawDecodeSample, aLawEncodeSample, muLawDecodeSample, muLawEncodeSample } from '@sovren/audio';
import type { G711Codec } from './media-format';

function buildTables(encode: (s: number) => number, decode: (c: number) => number) {
  const enc = new Uint8Array(65536);
  for (let s = -32768; s < 32768; s++) enc[s + 32768] = encode(s);
  const dec = new Int16Array(256);
  for (let c = 0; c < 256; c++) dec[c] = decode(c);
  return { enc, dec };
}

const TABLES: Record<G711Codec, { enc: Uint8Array; dec: Int16Array }> = {
  PCMU: buildTables(muLawEncodeSample, muLawDecodeSample),
  PCMA: buildTables(aLawEncodeSample, aLawDecodeSample),
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
