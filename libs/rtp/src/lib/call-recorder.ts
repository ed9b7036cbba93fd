// Records a call as a stereo WAV: caller on the left channel, agent on the right, time-aligned.
import type { RtpSession } from './rtp-session';

export interface CallRecording {
  path: string;
  bytes: number;
  durationMs: number;
}

export class CallRecorder {
  /** Creates the file (and its folder); sampleRate 8000 or 16000. */
  static async open(path: string, sampleRate: number): Promise<CallRecorder> {
    void path;
    void sampleRate;
    throw new Error('CallRecorder.open: implementation follows');
  }

  attach(session: RtpSession): void {
    void session;
  }

  async close(): Promise<CallRecording> {
    throw new Error('CallRecorder.close: implementation follows');
  }
}
