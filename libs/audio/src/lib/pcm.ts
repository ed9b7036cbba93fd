// PCM sample conversions: 16-bit little-endian integers <-> float32 in [-1, 1), interleaving and down-mixing.

/** Converts 16-bit PCM samples to float32 in [-1, 1). */
export function int16ToFloat32(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 32768;
  return out;
}

/** Converts float32 samples to 16-bit PCM, clipping to the 16-bit range and rounding to the nearest step. */
export function float32ToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const scaled = Math.round(samples[i] * 32768);
    // NaN becomes silence rather than an arbitrary value.
    out[i] = Number.isNaN(scaled) ? 0 : scaled > 32767 ? 32767 : scaled < -32768 ? -32768 : scaled;
  }
  return out;
}

/** Reads little-endian 16-bit PCM bytes (any alignment) into samples. An odd byte count is an error. */
export function pcm16BytesToInt16(bytes: Uint8Array): Int16Array {
  if (bytes.byteLength % 2 !== 0) {
    throw new RangeError(`16-bit PCM needs an even number of bytes, got ${bytes.byteLength}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Int16Array(bytes.byteLength / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** Writes samples as little-endian 16-bit PCM bytes. */
export function int16ToPcm16Bytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], i * 2);
  return out;
}

/** Float32 samples straight to little-endian 16-bit PCM bytes (clipped). */
export function float32ToPcm16Bytes(samples: Float32Array): Buffer {
  return int16ToPcm16Bytes(float32ToInt16(samples));
}

/** Little-endian 16-bit PCM bytes straight to float32 samples. */
export function pcm16BytesToFloat32(bytes: Uint8Array): Float32Array {
  return int16ToFloat32(pcm16BytesToInt16(bytes));
}

/** Averages interleaved channels into one. */
export function downmixToMono(interleaved: Float32Array, channels: number): Float32Array {
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`channels must be >= 1, got ${channels}`);
  if (channels === 1) return interleaved;
  if (interleaved.length % channels !== 0) {
    throw new RangeError(`${interleaved.length} samples are not a whole number of ${channels}-channel frames`);
  }
  const frames = interleaved.length / channels;
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[f * channels + c];
    out[f] = sum / channels;
  }
  return out;
}

/** Splits interleaved samples into one array per channel. */
export function deinterleave(interleaved: Float32Array, channels: number): Float32Array[] {
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`channels must be >= 1, got ${channels}`);
  if (interleaved.length % channels !== 0) {
    throw new RangeError(`${interleaved.length} samples are not a whole number of ${channels}-channel frames`);
  }
  const frames = interleaved.length / channels;
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let f = 0; f < frames; f++) for (let c = 0; c < channels; c++) out[c][f] = interleaved[f * channels + c];
  return out;
}

/** Joins per-channel arrays of equal length into interleaved samples. */
export function interleave(channelData: readonly Float32Array[]): Float32Array {
  if (channelData.length === 0) return new Float32Array(0);
  const frames = channelData[0].length;
  if (channelData.some((c) => c.length !== frames)) throw new RangeError('channels differ in length');
  const out = new Float32Array(frames * channelData.length);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channelData.length; c++) out[f * channelData.length + c] = channelData[c][f];
  }
  return out;
}

/** Root mean square of the samples (0 for none). */
export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  return Math.sqrt(sum / samples.length);
}
