// Records a call as a stereo 16-bit WAV: caller on the left channel, agent on the right, aligned on the 20 ms send
// clock. The header is written with streaming sizes first (readable even after a crash) and patched on close.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Resampler, float32ToInt16, int16ToFloat32, wavHeader } from '@sovren/audio';
import { G711_SAMPLE_RATE, SAMPLES_PER_FRAME_8K } from './media-format';
import type { RtpSession } from './rtp-session';

export interface CallRecording {
  path: string;
  bytes: number;
  durationMs: number;
}

/** Caller audio waiting for its agent frame: beyond this (the caller sends faster than we tick) the oldest goes. */
const MAX_CALLER_BACKLOG_FRAMES = 10;
/** Frames gathered before one write to disk (1 s). */
const FRAMES_PER_WRITE = 50;
const HEADER_BYTES = 44;

export class CallRecorder {
  private readonly callerBacklog: Int16Array[] = [];
  private pending: Int16Array[] = [];
  private writes: Promise<void> = Promise.resolve();
  private dataBytes = 0;
  private frames8k = 0;
  private detach: (() => void) | null = null;
  private closing: Promise<CallRecording> | null = null;
  private writeError: unknown = null;

  private constructor(
    readonly path: string,
    readonly sampleRate: number,
    private readonly file: FileHandle,
    private readonly upsampler: Resampler | null,
  ) {}

  /** Creates the file (and its folders); sampleRate 8000 (G.711's own) or 16000. */
  static async open(path: string, sampleRate: number): Promise<CallRecorder> {
    if (sampleRate !== 8000 && sampleRate !== 16000)
      throw new RangeError(`recordings are 8000 or 16000 Hz, not ${sampleRate}`);
    await mkdir(dirname(path), { recursive: true });
    const file = await open(path, 'wx', 0o640);
    try {
      await file.write(wavHeader(sampleRate, 2));
      const upsampler =
        sampleRate === G711_SAMPLE_RATE
          ? null
          : await Resampler.create({ fromRate: G711_SAMPLE_RATE, toRate: sampleRate, channels: 2 });
      return new CallRecorder(path, sampleRate, file, upsampler);
    } catch (error: unknown) {
      await file.close();
      throw error;
    }
  }

  /** Starts recording the session (one session per recorder). */
  attach(session: RtpSession): void {
    if (this.detach) throw new Error('recorder is already attached to a session');
    if (this.closing) throw new Error('recorder is closed');
    const onCaller = (frame: Int16Array) => {
      this.callerBacklog.push(frame);
      if (this.callerBacklog.length > MAX_CALLER_BACKLOG_FRAMES) this.callerBacklog.shift();
    };
    const onAgent = (frame: Int16Array) => this.addFrame(this.callerBacklog.shift(), frame);
    session.on('callerFrame8k', onCaller);
    session.on('agentFrame8k', onAgent);
    this.detach = () => {
      session.off('callerFrame8k', onCaller);
      session.off('agentFrame8k', onAgent);
    };
  }

  /** Stops recording, writes what is left and the final header; idempotent. */
  close(): Promise<CallRecording> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private addFrame(caller: Int16Array | undefined, agent: Int16Array): void {
    const stereo = new Int16Array(SAMPLES_PER_FRAME_8K * 2);
    for (let i = 0; i < SAMPLES_PER_FRAME_8K; i++) {
      stereo[2 * i] = caller && i < caller.length ? caller[i] : 0;
      stereo[2 * i + 1] = i < agent.length ? agent[i] : 0;
    }
    this.pending.push(stereo);
    this.frames8k++;
    if (this.pending.length >= FRAMES_PER_WRITE) this.writePending(false);
  }

  private writePending(last: boolean): void {
    const frames = this.pending;
    this.pending = [];
    let samples = concat(frames);
    if (this.upsampler) {
      const converted = this.upsampler.process(int16ToFloat32(samples));
      samples = float32ToInt16(last ? concatFloat([converted, this.upsampler.flush()]) : converted);
    }
    if (samples.length === 0) return;
    const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    if (!isLittleEndian) bytes.swap16();
    this.dataBytes += bytes.length;
    this.writes = this.writes.then(async () => {
      if (this.writeError) return;
      try {
        await this.file.write(bytes);
      } catch (error: unknown) {
        this.writeError = error; // reported by close(): a full disk must not crash the call
      }
    });
  }

  private async finish(): Promise<CallRecording> {
    this.detach?.();
    this.detach = null;
    this.writePending(true);
    await this.writes;
    try {
      if (this.writeError) throw this.writeError;
      await this.file.write(wavHeader(this.sampleRate, 2, this.dataBytes), 0, HEADER_BYTES, 0);
    } finally {
      await this.file.close();
    }
    return {
      path: this.path,
      bytes: HEADER_BYTES + this.dataBytes,
      durationMs: (this.frames8k * SAMPLES_PER_FRAME_8K * 1000) / G711_SAMPLE_RATE,
    };
  }
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function concatFloat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
