// Reads a voice pack: style vectors, one row per token count (Kokoro: 510 rows of 256 floats), from raw
// little-endian float32 (`.bin`) or a NumPy `.npy` file. Every size is checked; a bad file is a clear error.

export interface VoicePack {
  rows: number;
  styleDim: number;
  data: Float32Array;
}

export class VoicePackError extends Error {
  override name = 'VoicePackError';
}

export function readVoicePack(bytes: Buffer, format: 'bin' | 'npy', styleDim: number): VoicePack {
  const payload = format === 'npy' ? npyPayload(bytes, styleDim) : bytes;
  if (payload.byteLength === 0 || payload.byteLength % (styleDim * 4) !== 0) {
    throw new VoicePackError(`${payload.byteLength} bytes of float32 are not a whole number of ${styleDim}-float rows`);
  }
  const data = new Float32Array(payload.byteLength / 4);
  for (let i = 0; i < data.length; i++) data[i] = payload.readFloatLE(i * 4);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new VoicePackError(`value ${i} is not a finite number`);
  }
  return { rows: data.length / styleDim, styleDim, data };
}

/** The style row for a chunk of `tokenCount` tokens (pads excluded), clamped to the pack's last row. */
export function styleRow(pack: VoicePack, tokenCount: number): Float32Array {
  const row = Math.max(0, Math.min(tokenCount, pack.rows - 1));
  return pack.data.slice(row * pack.styleDim, (row + 1) * pack.styleDim);
}

/** Validates a .npy header (versions 1-3, little-endian float32, C order, last dimension styleDim). */
function npyPayload(bytes: Buffer, styleDim: number): Buffer {
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new VoicePackError('not a .npy file');
  const major = bytes[6];
  const headerLengthSize = major === 1 ? 2 : major === 2 || major === 3 ? 4 : 0;
  if (headerLengthSize === 0) throw new VoicePackError(`unsupported .npy version ${major}`);
  if (bytes.length < 8 + headerLengthSize) throw new VoicePackError('truncated .npy header');
  const headerLength = headerLengthSize === 2 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = 8 + headerLengthSize + headerLength;
  if (start > bytes.length) throw new VoicePackError(`.npy header of ${headerLength} bytes runs past the file`);
  const header = bytes.toString(major === 3 ? 'utf8' : 'latin1', 8 + headerLengthSize, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (descr !== '<f4') throw new VoicePackError(`.npy dtype ${descr ?? '(none)'} is not little-endian float32 (<f4)`);
  if (!/'fortran_order':\s*False/.test(header)) throw new VoicePackError('.npy in Fortran order is not supported');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) throw new VoicePackError('.npy header has no shape');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new VoicePackError(`.npy shape (${shapeText}) is invalid`);
  }
  if (shape[shape.length - 1] !== styleDim) {
    throw new VoicePackError(`.npy shape (${shapeText}) does not end in the model's style size ${styleDim}`);
  }
  const expected = shape.reduce((a, b) => a * b, 1) * 4;
  if (bytes.length - start !== expected) {
    throw new VoicePackError(
      `.npy shape (${shapeText}) needs ${expected} bytes of data, the file has ${bytes.length - start}`,
    );
  }
  return bytes.subarray(start);
}
