// One call's media: a UDP port pair, G.711 in and out, the jitter buffer, 20 ms paced sending, RFC 4733 DTMF, RTCP.
import { EventEmitter } from 'node:events';
import type { MediaFormat } from './media-format';
import type { RtpPortPool } from './rtp-port-pool';

export interface RtpSessionOptions {
  pool: RtpPortPool;
  callId: string;
  /** Where the SDP said to send; latched to the first packet's real source (symmetric RTP), others dropped. */
  remote?: { address: string; port: number };
  /** Set once the SDP answer/offer is agreed (setFormat later also allowed). */
  format?: MediaFormat;
  /** No RTP for this long → 'timeout' (SOVREN_VOICE_RTP_TIMEOUT_S); default 30 s, 0 = never. */
  timeoutMs?: number;
}

export interface RtpSessionStats {
  packetsIn: number;
  packetsOut: number;
  lost: number;
  jitterMs: number;
  lateOrReordered: number;
  pacingP99Ms: number;
  remoteLatched: boolean;
}

export class RtpSession extends EventEmitter {
  /** Binds the UDP pair. */
  static async open(options: RtpSessionOptions): Promise<RtpSession> {
    void options;
    throw new Error('RtpSession.open: implementation follows');
  }

  /** Caller audio, decoded, after the jitter buffer: 20 ms frames of 16-bit PCM at 16 kHz (320 samples). */
  override on(event: 'audio', listener: (frame: Int16Array) => void): this;
  override on(event: 'dtmf', listener: (digit: string, durationMs: number) => void): this;
  /** No RTP for SOVREN_VOICE_RTP_TIMEOUT_S. */
  override on(event: 'timeout', listener: () => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** For our SDP (RTCP = localPort + 1). */
  readonly localPort: number = 0;

  /** From the peer's SDP (re-INVITE too). */
  setRemote(address: string, port: number): void {
    void address;
    void port;
  }

  setFormat(format: MediaFormat): void {
    void format;
  }

  /** a=sendonly/inactive: stop sending while held. */
  hold(onHold: boolean): void {
    void onHold;
  }

  /** Agent audio: PCM at `sampleRate` (8000 | 16000 | 24000), queued, resampled, encoded, paced at 20 ms. */
  play(pcm: Int16Array, sampleRate: number): void {
    void pcm;
    void sampleRate;
  }

  /** Drop queued agent audio at once (barge-in); returns the ms of audio that was actually sent so far. */
  flushPlayback(): number {
    return 0;
  }

  get playbackQueuedMs(): number {
    return 0;
  }

  /** RFC 4733 telephone-events, one digit after another. */
  async sendDtmf(digits: string): Promise<void> {
    void digits;
  }

  stats(): RtpSessionStats {
    return {
      packetsIn: 0,
      packetsOut: 0,
      lost: 0,
      jitterMs: 0,
      lateOrReordered: 0,
      pacingP99Ms: 0,
      remoteLatched: false,
    };
  }

  /** Releases the ports; idempotent. */
  async close(): Promise<void> {
    return;
  }
}
