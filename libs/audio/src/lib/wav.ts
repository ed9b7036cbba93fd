// WAV (RIFF/WAVE) reading and writing. Reading accepts PCM 8/16/24/32-bit, IEEE float32/64, mu-law and A-law
// (plain or WAVE_FORMAT_EXTENSIBLE); every size and offset is checked against the buffer before it is used.
import { aLawDecodeSample, muLawDecodeSample } from './g711';
import { float32ToInt16 } from './pcm';

export type WavEncoding = 'pcm' | 'float' | 'mulaw' | 'alaw';

export enum WavErrorCode {
  NotRiff = 'NOT_RIFF',
  Truncated = 'TRUNCATED',
  MissingFormat = 'MISSING_FORMAT',
  MissingData = 'MISSING_DATA',
  UnsupportedFormat = 'UNSUPPORTED_FORMAT',
  InvalidFormat = 'INVALID_FORMAT',
}

/** A WAV file that cannot be read: the code says which rule it broke, the message says where. */
export class WavError extends Error {
  constructor(
    readonly code: WavErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WavError';
  }
}

export interface WavAudio {
  sampleRate: number;
  channels: number;
  encoding: WavEncoding;
  bitsPerSample: number;
  /** Sample frames (samples per channel). */
  frames: number;
  /** Interleaved samples as float32 in [-1, 1). */
  samples: Float32Array;
}

export interface WavReadLimits {
  /** Largest channel count accepted (default 8). */
  maxChannels?: number;
  /** Highest sample rate accepted (default 384 000). */
  maxSampleRate?: number;
}

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_ALAW = 0x0006;
const FORMAT_MULAW = 0x0007;
const FORMAT_EXTENSIBLE = 0xfffe;
/** A data size writers use when they stream and never come back to patch the header. */
const STREAMING_SIZE = 0xffffffff;
/** espeak-ng and sox write this (or more) when they stream to a pipe: also "until the end of the file". */
const STREAMING_SIZE_MIN = 0x7ffff000;

interface FormatChunk {
  encoding: WavEncoding;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
}

/** Parses a WAV file held in memory. Throws WavError for anything malformed or unsupported. */
export function readWav(bytes: Uint8Array, limits: WavReadLimits = {}): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 12)
    throw new WavError(WavErrorCode.Truncated, `${bytes.byteLength} bytes is too short for a WAV header`);
  if (fourCc(bytes, 0) !== 'RIFF' || fourCc(bytes, 8) !== 'WAVE') {
    throw new WavError(WavErrorCode.NotRiff, 'not a RIFF/WAVE file');
  }
  let format: FormatChunk | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = fourCc(bytes, offset);
    const declared = view.getUint32(offset + 4, true);
    const bodyStart = offset + 8;
    const remaining = bytes.byteLength - bodyStart;
    if (id === 'fmt ') {
      if (declared > remaining) {
        throw new WavError(WavErrorCode.Truncated, `fmt chunk declares ${declared} bytes, ${remaining} remain`);
      }
      format = parseFormat(view, bodyStart, declared, limits);
    } else if (id === 'data') {
      if (!format) throw new WavError(WavErrorCode.MissingFormat, 'data chunk comes before any fmt chunk');
      let size = declared;
      if (declared >= STREAMING_SIZE_MIN || (declared === 0 && remaining > 0)) {
        // A streamed WAV: the data runs to the end of the file.
        size = remaining - (remaining % format.blockAlign);
      } else if (declared > remaining) {
        throw new WavError(WavErrorCode.Truncated, `data chunk declares ${declared} bytes, ${remaining} remain`);
      }
      if (size % format.blockAlign !== 0) {
        throw new WavError(
          WavErrorCode.InvalidFormat,
          `data chunk of ${size} bytes is not a whole number of ${format.blockAlign}-byte frames`,
        );
      }
      return decode(view, bodyStart, size, format);
    } else if (declared > remaining) {
      throw new WavError(
        WavErrorCode.Truncated,
        `${JSON.stringify(id)} chunk declares ${declared} bytes, ${remaining} remain`,
      );
    }
    // Chunks are padded to an even length.
    offset = bodyStart + declared + (declared % 2);
  }
  if (!format) throw new WavError(WavErrorCode.MissingFormat, 'no fmt chunk');
  throw new WavError(WavErrorCode.MissingData, 'no data chunk');
}

function parseFormat(view: DataView, start: number, size: number, limits: WavReadLimits): FormatChunk {
  if (size < 16) throw new WavError(WavErrorCode.InvalidFormat, `fmt chunk of ${size} bytes is shorter than 16`);
  let tag = view.getUint16(start, true);
  const channels = view.getUint16(start + 2, true);
  const sampleRate = view.getUint32(start + 4, true);
  const blockAlign = view.getUint16(start + 12, true);
  const bitsPerSample = view.getUint16(start + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (size < 40)
      throw new WavError(WavErrorCode.InvalidFormat, `extensible fmt chunk of ${size} bytes is shorter than 40`);
    // The sub-format GUID starts with the classic format tag.
    tag = view.getUint16(start + 24, true);
  }
  const maxChannels = limits.maxChannels ?? 8;
  const maxSampleRate = limits.maxSampleRate ?? 384_000;
  if (channels < 1 || channels > maxChannels) {
    throw new WavError(WavErrorCode.InvalidFormat, `${channels} channels (1..${maxChannels} supported)`);
  }
  if (sampleRate < 1 || sampleRate > maxSampleRate) {
    throw new WavError(WavErrorCode.InvalidFormat, `sample rate ${sampleRate} Hz (1..${maxSampleRate} supported)`);
  }
  let encoding: WavEncoding;
  if (tag === FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) encoding = 'pcm';
  else if (tag === FORMAT_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64)) encoding = 'float';
  else if (tag === FORMAT_MULAW && bitsPerSample === 8) encoding = 'mulaw';
  else if (tag === FORMAT_ALAW && bitsPerSample === 8) encoding = 'alaw';
  else {
    throw new WavError(
      WavErrorCode.UnsupportedFormat,
      `format tag 0x${tag.toString(16)} with ${bitsPerSample} bits per sample is not supported`,
    );
  }
  if (blockAlign !== channels * (bitsPerSample / 8)) {
    throw new WavError(
      WavErrorCode.InvalidFormat,
      `block align ${blockAlign} does not match ${channels} channels of ${bitsPerSample} bits`,
    );
  }
  return { encoding, channels, sampleRate, bitsPerSample, blockAlign };
}

function decode(view: DataView, start: number, size: number, format: FormatChunk): WavAudio {
  const count = size / (format.bitsPerSample / 8);
  const samples = new Float32Array(count);
  const { encoding, bitsPerSample } = format;
  for (let i = 0; i < count; i++) {
    if (encoding === 'mulaw') samples[i] = muLawDecodeSample(view.getUint8(start + i)) / 32768;
    else if (encoding === 'alaw') samples[i] = aLawDecodeSample(view.getUint8(start + i)) / 32768;
    else if (encoding === 'float') {
      samples[i] = bitsPerSample === 32 ? view.getFloat32(start + i * 4, true) : view.getFloat64(start + i * 8, true);
    } else if (bitsPerSample === 8) samples[i] = (view.getUint8(start + i) - 128) / 128;
    else if (bitsPerSample === 16) samples[i] = view.getInt16(start + i * 2, true) / 32768;
    else if (bitsPerSample === 24) {
      const p = start + i * 3;
      const value = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16);
      samples[i] = value / 8388608;
    } else samples[i] = view.getInt32(start + i * 4, true) / 2147483648;
  }
  return {
    sampleRate: format.sampleRate,
    channels: format.channels,
    encoding,
    bitsPerSample,
    frames: count / format.channels,
    samples,
  };
}

function fourCc(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]);
}

/**
 * The 44-byte header of a 16-bit PCM WAV. Pass `dataBytes` undefined for a stream of unknown length: the sizes
 * are then 0xFFFFFFFF, which readers (ours, ffmpeg, sox, browsers) take as "until the end".
 */
export function wavHeader(sampleRate: number, channels: number, dataBytes?: number): Buffer {
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new RangeError(`invalid sample rate ${sampleRate}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new RangeError(`invalid channels ${channels}`);
  if (dataBytes !== undefined && (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > 0xffffffff - 36)) {
    throw new RangeError(`invalid data size ${dataBytes}`);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(dataBytes === undefined ? STREAMING_SIZE : 36 + dataBytes, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(FORMAT_PCM, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes === undefined ? STREAMING_SIZE : dataBytes, 40);
  return header;
}

/** Writes interleaved samples (float32 in [-1, 1) or 16-bit) as a 16-bit PCM WAV file. */
export function writeWav(samples: Float32Array | Int16Array, sampleRate: number, channels = 1): Buffer {
  if (samples.length % channels !== 0) {
    throw new RangeError(`${samples.length} samples are not a whole number of ${channels}-channel frames`);
  }
  const pcm = samples instanceof Int16Array ? samples : float32ToInt16(samples);
  const body = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) body.writeInt16LE(pcm[i], i * 2);
  return Buffer.concat([wavHeader(sampleRate, channels, body.length), body]);
}
