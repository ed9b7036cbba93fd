// Streaming sample-rate conversion on libsamplerate (WebAssembly build): one Resampler per stream keeps the
// filter state across chunks, so a call's 20 ms frames join without clicks. Output is time-aligned with the input
// (no added offset); the converter only withholds the filter's look-ahead until more input or flush() arrives.
import { ConverterType, create } from '@alexanderolsen/libsamplerate-js';
import type { SRC } from '@alexanderolsen/libsamplerate-js/dist/src';

export type ResamplerQuality = 'best' | 'medium' | 'fastest' | 'linear';

export interface ResamplerOptions {
  fromRate: number;
  toRate: number;
  /** Interleaved channels (default 1). */
  channels?: number;
  /** libsamplerate converter (default 'medium': band-limited sinc, ~6 ms look-ahead; see README). */
  quality?: ResamplerQuality;
}

const CONVERTERS = {
  best: ConverterType.SRC_SINC_BEST_QUALITY,
  medium: ConverterType.SRC_SINC_MEDIUM_QUALITY,
  fastest: ConverterType.SRC_SINC_FASTEST,
  linear: ConverterType.SRC_LINEAR,
} as const;

/** Zeros fed per step by flush() to push out the withheld look-ahead (longer than any converter's). */
const FLUSH_STEP_MS = 50;
const MAX_FLUSH_STEPS = 10;

export class Resampler {
  private inputFrames = 0;
  private outputFrames = 0;
  private closed = false;

  private constructor(
    private readonly src: SRC | undefined,
    readonly fromRate: number,
    readonly toRate: number,
    readonly channels: number,
  ) {}

  /** Loads a converter with its own state (about 1.5 MB of WebAssembly memory each; close() frees it). */
  static async create(options: ResamplerOptions): Promise<Resampler> {
    const channels = options.channels ?? 1;
    for (const [name, rate] of [
      ['fromRate', options.fromRate],
      ['toRate', options.toRate],
    ] as const) {
      if (!Number.isInteger(rate) || rate < 1 || rate > 192_000) {
        throw new RangeError(`${name} must be an integer from 1 to 192000 Hz, got ${rate}`);
      }
    }
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) {
      throw new RangeError(`channels must be an integer from 1 to 8, got ${channels}`);
    }
    const quality = options.quality ?? 'medium';
    if (!(quality in CONVERTERS)) throw new RangeError(`unknown resampler quality ${JSON.stringify(quality)}`);
    const src =
      options.fromRate === options.toRate
        ? undefined
        : await create(channels, options.fromRate, options.toRate, { converterType: CONVERTERS[quality] });
    return new Resampler(src, options.fromRate, options.toRate, channels);
  }

  /** Output frames owed for the input so far but not yet returned (the look-ahead the filter is holding). */
  get pendingFrames(): number {
    return Math.max(0, Math.round((this.inputFrames * this.toRate) / this.fromRate) - this.outputFrames);
  }

  /** Converts the next chunk of interleaved samples; returns what is ready (possibly fewer frames than owed). */
  process(input: Float32Array): Float32Array {
    this.assertOpen();
    if (input.length % this.channels !== 0) {
      throw new RangeError(`${input.length} samples are not a whole number of ${this.channels}-channel frames`);
    }
    if (input.length === 0) return new Float32Array(0);
    this.inputFrames += input.length / this.channels;
    const out = this.src ? this.src.full(input) : Float32Array.from(input);
    return this.take(out);
  }

  /** Ends the stream: returns the withheld tail so that the total output is exactly input × toRate / fromRate. */
  flush(): Float32Array {
    this.assertOpen();
    const parts: Float32Array[] = [];
    const zeros = new Float32Array(Math.ceil((this.fromRate * FLUSH_STEP_MS) / 1000) * this.channels);
    for (let step = 0; this.src && this.pendingFrames > 0 && step < MAX_FLUSH_STEPS; step++) {
      parts.push(this.take(this.src.full(zeros)));
    }
    this.close();
    return concat(parts);
  }

  /** Frees the converter; further calls throw. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src?.destroy();
  }

  /** Keeps the output within what the input so far is owed (flush's zeros would otherwise add a tail). */
  private take(out: Float32Array): Float32Array {
    const owedFrames = this.pendingFrames;
    const frames = Math.min(out.length / this.channels, owedFrames);
    this.outputFrames += frames;
    return frames * this.channels === out.length ? out : out.slice(0, frames * this.channels);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('resampler is closed');
  }
}

/** Converts a whole clip at once (exact output length input × toRate / fromRate, rounded). */
export async function resample(
  samples: Float32Array,
  fromRate: number,
  toRate: number,
  options: { channels?: number; quality?: ResamplerQuality } = {},
): Promise<Float32Array> {
  const resampler = await Resampler.create({ fromRate, toRate, ...options });
  try {
    const head = resampler.process(samples);
    return concat([head, resampler.flush()]);
  } finally {
    resampler.close();
  }
}

function concat(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
