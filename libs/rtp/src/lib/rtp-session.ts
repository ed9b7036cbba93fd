// One call's media: a UDP port pair, G.711 in and out, the jitter buffer, 20 ms paced sending, RFC 4733 DTMF, RTCP
// and symmetric RTP latching. Inbound audio leaves as 16 kHz frames; outbound audio is resampled to 8 kHz.
import { randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';
import { Logger } from '@nestjs/common';
import { Resampler, float32ToInt16, int16ToFloat32 } from '@sovren/audio';
import { DtmfReceiver, dtmfEventCode, parseTelephoneEvent, serializeTelephoneEvent } from './dtmf';
import { g711Decode, g711Encode } from './g711';
import { JitterBuffer, type JitterBufferOutput } from './jitter-buffer';
import { LatenessHistogram, type MediaClock, type PacedStream, sharedMediaClock, type ClockTick } from './media-clock';
import {
  FRAME_MS,
  G711_SAMPLE_RATE,
  SAMPLES_PER_FRAME_16K,
  SAMPLES_PER_FRAME_8K,
  SERVICE_SAMPLE_RATE,
  type MediaFormat,
} from './media-format';
import { ReceiverStatistics, ntpTimestamp, parseRtcpCompound, serializeRtcpCompound } from './rtcp';
import { RtpParseError, parseRtpPacket, serializeRtpPacket, type RtpPacket } from './rtp-packet';
import type { RtpPortPool, RtpSocketPair } from './rtp-port-pool';
import { PACER_LEAD_MS, type PacedSender, type RtpPacer, sharedRtpPacer } from './rtp-pacer';

export interface RtpSessionOptions {
  pool: RtpPortPool;
  callId: string;
  /** Where the SDP said to send; latched to the first packet's real source (symmetric RTP), others dropped. */
  remote?: { address: string; port: number };
  /** Set once the SDP answer/offer is agreed (setFormat later also allowed). */
  format?: MediaFormat;
  /** No RTP for this long → 'timeout' (SOVREN_VOICE_RTP_TIMEOUT_S); default 30 s, 0 = never. */
  timeoutMs?: number;
  /** The pacing clock (default: the process-wide one every session shares). */
  clock?: MediaClock;
  /**
   * The native sender thread packets are handed to, one frame ahead (default: the process's, unless a clock is
   * given: a test's fake clock has no wire time); null: sent from the event loop at the tick.
   */
  pacer?: RtpPacer | null;
}

export interface RtpSessionStats {
  packetsIn: number;
  packetsOut: number;
  /** Inbound packets never received in time (concealed or skipped). */
  lost: number;
  /** Inbound interarrival jitter (RFC 3550 A.8). */
  jitterMs: number;
  lateOrReordered: number;
  /** 99th percentile of |send time − scheduled time| of our 20 ms ticks. */
  pacingP99Ms: number;
  remoteLatched: boolean;
  /** Datagrams from an address other than the latched/expected one, dropped. */
  droppedForeign: number;
  /** Datagrams that were not valid RTP, or carried a payload type we did not agree. */
  malformed: number;
  /** What the peer's last RTCP report said about our stream (null before one arrives). */
  remoteReport: RtpRemoteReport | null;
}

export interface RtpRemoteReport {
  fractionLost: number;
  cumulativeLost: number;
  jitterMs: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** RTCP every 5 s (RFC 3550 §6.2 minimum), as ticks. */
const RTCP_INTERVAL_TICKS = 5000 / FRAME_MS;
/** A DTMF digit lasts 100 ms, then 3 end packets, then 60 ms of gap before the next. */
const DTMF_TONE_TICKS = 5;
const DTMF_END_PACKETS = 3;
const DTMF_GAP_TICKS = 3;
const DTMF_VOLUME = 10;
const PLAY_RATES = new Set([8000, 16000, 24000, 48000]);
/** Packets remembered after handing them to the pacer (it holds one or two: PACER_LEAD_MS ahead, plus lateness). */
const IN_PACER_KEPT = 4;

interface OutgoingDigit {
  code: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface DigitInProgress {
  code: number;
  startTimestamp: number;
  tick: number;
  last: boolean;
  resolve: () => void;
}

export class RtpSessionClosedError extends Error {}

export class RtpSession extends EventEmitter {
  readonly callId: string;
  /** For our SDP (RTCP = localPort + 1). */
  readonly localPort: number;

  private readonly logger = new Logger(RtpSession.name);
  private readonly clock: MediaClock;
  private readonly ticks: PacedStream;
  private readonly timeoutMs: number;
  private format: MediaFormat | null;
  private expected: { address: string; port: number } | null = null;
  private latched: { address: string; port: number } | null = null;
  private rtcpRemote: { address: string; port: number } | null = null;
  private held = false;
  private closing: Promise<void> | null = null;

  // Outbound stream state (RFC 3550: random initial values).
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private sequence = randomInt(0, 0x10000);
  private timestamp = randomBytes(4).readUInt32BE(0);
  private packetsOut = 0;
  private octetsOut = 0;
  private sentSinceReport = false;
  private marker = true;
  private readonly pacing = new LatenessHistogram();
  private readonly pacer: RtpPacer | null;
  private sender: PacedSender | null = null;
  /** The pacer could not take this session's socket: send at the tick. */
  private sendFromLoop = false;
  /** The last packets handed to the pacer, oldest first: what a barge-in replaces with silence if not yet sent. */
  private readonly inPacer: { header: Omit<RtpPacket, 'payload'>; payload: Uint8Array; dueMs: number }[] = [];

  // Agent audio: 8 kHz chunks ready to send, and input waiting for its resampler.
  private readonly playQueue: Int16Array[] = [];
  private playQueueOffset = 0;
  private playQueueSamples = 0;
  private readonly pendingInput: { pcm: Int16Array; rate: number }[] = [];
  private readonly downsamplers = new Map<number, Resampler | 'creating'>();
  private playedSamples = 0;
  private playbackPaused = false;
  private readonly silence = new Int16Array(SAMPLES_PER_FRAME_8K);

  // DTMF out.
  private readonly digitQueue: OutgoingDigit[] = [];
  private digit: DigitInProgress | null = null;
  private digitGapTicks = 0;

  // Inbound stream state.
  private remoteSsrc: number | null = null;
  private jitter = new JitterBuffer();
  private receiverStats = new ReceiverStatistics();
  private readonly dtmfIn: DtmfReceiver;
  private packetsIn = 0;
  private lostBefore = 0;
  private reorderedBefore = 0;
  private droppedForeign = 0;
  private malformed = 0;
  private lastInboundMs: number;
  private timedOut = false;
  private remoteReport: RtpRemoteReport | null = null;
  private lastFrame8k: Int16Array | null = null;
  private concealedRun = 0;

  // Caller audio at 16 kHz for 'audio' listeners (created on the first subscription).
  private upsampler: Resampler | 'creating' | null = null;
  private readonly upsampleBacklog: Int16Array[] = [];
  private frame16k = new Int16Array(SAMPLES_PER_FRAME_16K);
  private frame16kFill = 0;

  /** Binds the UDP pair. */
  static async open(options: RtpSessionOptions): Promise<RtpSession> {
    const pair = await options.pool.allocate();
    try {
      return new RtpSession(pair, options);
    } catch (error: unknown) {
      await pair.release(); // a bad remote address must not leak the port pair
      throw error;
    }
  }

  private constructor(
    private readonly pair: RtpSocketPair,
    options: RtpSessionOptions,
  ) {
    super();
    this.callId = options.callId;
    this.localPort = pair.rtpPort;
    this.format = options.format ?? null;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.clock = options.clock ?? sharedMediaClock;
    this.pacer = options.pacer !== undefined ? options.pacer : options.clock ? null : sharedRtpPacer();
    this.lastInboundMs = this.clock.now();
    if (options.remote) this.setRemote(options.remote.address, options.remote.port);
    this.dtmfIn = new DtmfReceiver((digit, durationMs) => this.emit('dtmf', digit, durationMs));
    pair.rtp.on('message', (message, rinfo) => this.onRtp(message, rinfo));
    pair.rtcp.on('message', (message, rinfo) => this.onRtcp(message, rinfo));
    for (const socket of [pair.rtp, pair.rtcp]) {
      socket.on('error', (error) => this.logger.warn(`call ${this.callId}: RTP socket error: ${error.message}`));
    }
    this.ticks = this.clock.schedule(FRAME_MS, (tick) => this.onTick(tick));
  }

  /** Caller audio, decoded, after the jitter buffer: 20 ms frames of 16-bit PCM at 16 kHz (320 samples). */
  override on(event: 'audio', listener: (frame: Int16Array) => void): this;
  /** A DTMF digit the caller pressed (RFC 4733), once per press. */
  override on(event: 'dtmf', listener: (digit: string, durationMs: number) => void): this;
  /** No RTP for SOVREN_VOICE_RTP_TIMEOUT_S. */
  override on(event: 'timeout', listener: () => void): this;
  /** Caller audio at 8 kHz (160 samples per 20 ms, concealment included), as decoded: for echo and recording. */
  override on(event: 'callerFrame8k', listener: (frame: Int16Array) => void): this;
  /** What we sent (or would send while held) each 20 ms at 8 kHz, silence included: for recording. */
  override on(event: 'agentFrame8k', listener: (frame: Int16Array) => void): this;
  /** The peer's RTCP report about our stream. */
  override on(event: 'remoteReport', listener: (report: RtpRemoteReport) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    if (event === 'audio' && this.upsampler === null) this.createUpsampler();
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  /** From the peer's SDP (re-INVITE too): a new address unlatches, and the next packet from it latches again. */
  setRemote(address: string, port: number): void {
    if (!isIP(address) || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new RangeError(`invalid RTP remote ${address}:${port}`);
    if (this.expected && this.expected.address === address && this.expected.port === port) return;
    this.expected = { address, port };
    this.latched = null;
    this.sender?.setTarget(address, port);
    this.rtcpRemote = { address, port: port + 1 };
    this.lastInboundMs = this.clock.now();
  }

  setFormat(format: MediaFormat): void {
    this.format = format;
  }

  /** a=sendonly/inactive: stop sending while held (the pacing clock keeps running, so timestamps stay true). */
  hold(onHold: boolean): void {
    if (this.held && !onHold) this.marker = true;
    this.held = onHold;
    this.lastInboundMs = this.clock.now();
  }

  /** Agent audio: PCM at `sampleRate` (8000 | 16000 | 24000 | 48000), queued, resampled, encoded, paced at 20 ms. */
  play(pcm: Int16Array, sampleRate: number): void {
    if (!PLAY_RATES.has(sampleRate)) throw new RangeError(`cannot play PCM at ${sampleRate} Hz`);
    if (this.closing || pcm.length === 0) return;
    this.pendingInput.push({ pcm: pcm.slice(), rate: sampleRate });
    this.convertPending();
  }

  /**
   * Drops queued agent audio at once (barge-in) and ends any pause; returns the ms of agent audio sent since the
   * previous flush (so a flush at the start of an utterance makes the next one measure just that utterance).
   */
  flushPlayback(): number {
    this.silenceQueuedAudio();
    const sentMs = (this.playedSamples * 1000) / G711_SAMPLE_RATE;
    this.playedSamples = 0;
    this.playbackPaused = false;
    this.playQueue.length = 0;
    this.playQueueOffset = 0;
    this.playQueueSamples = 0;
    this.pendingInput.length = 0;
    // A resampler holds a few ms of the old audio in its filter: start the next utterance from a clean one.
    for (const [rate, resampler] of this.downsamplers) {
      if (resampler !== 'creating') {
        resampler.close();
        this.downsamplers.delete(rate);
      }
    }
    return sentMs;
  }

  /**
   * Holds agent audio back (silence goes out, the queue keeps its place) or lets it go on: the caller started
   * talking and it is not yet clear whether it is a barge-in or a backchannel.
   */
  pausePlayback(paused: boolean): void {
    if (paused && !this.playbackPaused) this.silenceQueuedAudio();
    this.playbackPaused = paused;
  }

  /**
   * Agent audio already handed to the pacer (one frame ahead of the wire) would still be heard after a barge-in:
   * those packets are taken back and sent again as silence with the same sequence numbers and timestamps, so the
   * peer sees no gap. DTMF packets go out unchanged.
   */
  private silenceQueuedAudio(): void {
    if (!this.sender || !this.format) return;
    const dropped = this.sender.flush();
    const format = this.format;
    for (const queued of this.inPacer.slice(this.inPacer.length - dropped)) {
      const audio = queued.header.payloadType === format.payloadType;
      const payload = audio ? g711Encode(format.codec, this.silence) : queued.payload;
      this.sender.send(serializeRtpPacket(queued.header, payload), queued.dueMs);
    }
  }

  get playbackQueuedMs(): number {
    let ms = (this.playQueueSamples * 1000) / G711_SAMPLE_RATE;
    for (const input of this.pendingInput) ms += (input.pcm.length * 1000) / input.rate;
    return ms;
  }

  /** RFC 4733 telephone-events, one digit after another; resolves when the last end packet has gone. */
  sendDtmf(digits: string): Promise<void> {
    if (this.closing) return Promise.reject(new RtpSessionClosedError('RTP session is closed'));
    if (!this.format || this.format.telephoneEventPayloadType === null)
      return Promise.reject(new Error('the peer did not agree telephone-event: cannot send DTMF'));
    const codes = [...digits].map(dtmfEventCode);
    if (codes.length === 0 || codes.some((code) => code < 0))
      return Promise.reject(new RangeError(`DTMF digits must be 0-9, *, #, A-D: ${JSON.stringify(digits)}`));
    return Promise.all(
      codes.map((code) => new Promise<void>((resolve, reject) => this.digitQueue.push({ code, resolve, reject }))),
    ).then(() => undefined);
  }

  stats(): RtpSessionStats {
    return {
      packetsIn: this.packetsIn,
      packetsOut: this.packetsOut,
      lost: this.lostBefore + this.jitter.lost,
      jitterMs: this.receiverStats.jitterMs,
      lateOrReordered: this.reorderedBefore + this.jitter.lateOrReordered,
      pacingP99Ms: Math.max(this.pacing.quantile(0.99), this.sender?.stats().latenessP99Ms ?? 0),
      remoteLatched: this.latched !== null,
      droppedForeign: this.droppedForeign,
      malformed: this.malformed,
      remoteReport: this.remoteReport,
    };
  }

  /** Releases the ports; idempotent. Pending DTMF is rejected; a BYE report goes to the peer. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.ticks.stop();
    this.dtmfIn.finishCurrent();
    await this.sendRtcp(true);
    this.sender?.close(); // before the socket closes: the pacer thread never touches it again
    const closed = new RtpSessionClosedError('RTP session closed');
    for (const digit of this.digitQueue.splice(0)) digit.reject(closed);
    this.digit?.resolve();
    this.digit = null;
    for (const resampler of this.downsamplers.values()) if (resampler !== 'creating') resampler.close();
    this.downsamplers.clear();
    if (this.upsampler !== null && this.upsampler !== 'creating') this.upsampler.close();
    this.upsampler = null;
    await this.pair.release();
    this.emit('closed');
  }

  // ---- inbound ----

  private acceptSource(rinfo: RemoteInfo): boolean {
    if (this.latched) return rinfo.address === this.latched.address && rinfo.port === this.latched.port;
    const expected = this.expected;
    if (!expected) return false;
    // Symmetric RTP: the SDP address behind NAT is often private or a different port; the first packet from the
    // SDP's host (or from anywhere when the SDP gave a private/unspecified address) fixes the peer for the call.
    if (rinfo.address === expected.address || isUnroutable(expected.address)) {
      this.latched = { address: rinfo.address, port: rinfo.port };
      this.sender?.setTarget(rinfo.address, rinfo.port);
      this.rtcpRemote = { address: rinfo.address, port: rinfo.port + 1 };
      return true;
    }
    return false;
  }

  private onRtp(message: Buffer, rinfo: RemoteInfo): void {
    if (this.closing) return;
    if (!this.acceptSource(rinfo)) {
      this.droppedForeign++;
      return;
    }
    let packet;
    try {
      packet = parseRtpPacket(message);
    } catch (error: unknown) {
      if (!(error instanceof RtpParseError)) throw error;
      this.malformed++;
      return;
    }
    const format = this.format;
    if (!format) return; // media before the SDP is agreed: nothing to decode it with
    const isAudio = packet.payloadType === format.payloadType;
    const isEvent =
      packet.payloadType === format.telephoneEventPayloadType && format.telephoneEventPayloadType !== null;
    if (!isAudio && !isEvent && packet.payloadType !== 13 /* comfort noise */) {
      this.malformed++;
      return;
    }
    const now = this.clock.now();
    if (this.remoteSsrc !== packet.ssrc) {
      if (this.remoteSsrc !== null) this.restartInbound();
      this.remoteSsrc = packet.ssrc;
    }
    this.packetsIn++;
    this.lastInboundMs = now;
    this.receiverStats.record(packet.sequenceNumber, packet.timestamp, now);
    if (isEvent) {
      try {
        this.dtmfIn.receive(packet.timestamp, parseTelephoneEvent(packet.payload));
      } catch (error: unknown) {
        this.malformed++;
        this.logger.debug(`call ${this.callId}: bad telephone-event: ${String(error)}`);
      }
      this.jitter.push(packet.sequenceNumber, { kind: 'event' }, now);
    } else if (isAudio) {
      this.jitter.push(packet.sequenceNumber, { kind: 'audio', payload: packet.payload }, now);
    } else {
      this.jitter.push(packet.sequenceNumber, { kind: 'event' }, now);
    }
    this.drainJitter(now);
  }

  /** A new SSRC (the peer restarted its stream, e.g. after a transfer): fresh buffer and statistics. */
  private restartInbound(): void {
    this.lostBefore += this.jitter.lost;
    this.reorderedBefore += this.jitter.lateOrReordered;
    this.jitter = new JitterBuffer();
    this.receiverStats = new ReceiverStatistics();
    this.dtmfIn.finishCurrent();
  }

  private drainJitter(now: number): void {
    const format = this.format;
    if (!format) return;
    for (const out of this.jitter.pop(now)) this.playOut(out, format);
  }

  private playOut(out: JitterBufferOutput, format: MediaFormat): void {
    if (out.kind === 'event') return;
    let frame: Int16Array;
    if (out.kind === 'audio') {
      frame = g711Decode(format.codec, out.payload);
      this.concealedRun = 0;
      this.lastFrame8k = frame;
    } else {
      frame = this.conceal();
    }
    this.emit('callerFrame8k', frame);
    if (this.upsampler !== null) this.upsample(frame);
  }

  /** Loss concealment: repeat the last frame, fading by half each time, then silence. */
  private conceal(): Int16Array {
    this.concealedRun++;
    const last = this.lastFrame8k;
    if (!last || this.concealedRun > 3) return new Int16Array(SAMPLES_PER_FRAME_8K);
    const gain = 0.5 ** this.concealedRun;
    const frame = new Int16Array(last.length);
    for (let i = 0; i < last.length; i++) frame[i] = Math.round(last[i] * gain);
    return frame;
  }

  private createUpsampler(): void {
    this.upsampler = 'creating';
    Resampler.create({ fromRate: G711_SAMPLE_RATE, toRate: SERVICE_SAMPLE_RATE }).then(
      (resampler) => {
        if (this.closing) {
          resampler.close();
          return;
        }
        this.upsampler = resampler;
        for (const frame of this.upsampleBacklog.splice(0)) this.upsample(frame);
      },
      (error: unknown) => {
        this.logger.error(`call ${this.callId}: cannot create the 8→16 kHz resampler: ${String(error)}`);
        this.upsampler = null;
        this.upsampleBacklog.length = 0;
      },
    );
  }

  private upsample(frame8k: Int16Array): void {
    const resampler = this.upsampler;
    if (resampler === null) return;
    if (resampler === 'creating') {
      this.upsampleBacklog.push(frame8k);
      return;
    }
    const out = float32ToInt16(resampler.process(int16ToFloat32(frame8k)));
    let offset = 0;
    while (offset < out.length) {
      const n = Math.min(out.length - offset, SAMPLES_PER_FRAME_16K - this.frame16kFill);
      this.frame16k.set(out.subarray(offset, offset + n), this.frame16kFill);
      this.frame16kFill += n;
      offset += n;
      if (this.frame16kFill === SAMPLES_PER_FRAME_16K) {
        const frame = this.frame16k;
        this.frame16k = new Int16Array(SAMPLES_PER_FRAME_16K);
        this.frame16kFill = 0;
        this.emit('audio', frame);
      }
    }
  }

  private onRtcp(message: Buffer, rinfo: RemoteInfo): void {
    if (this.closing) return;
    const peer = this.latched ?? this.expected;
    if (!peer || rinfo.address !== peer.address) {
      this.droppedForeign++;
      return;
    }
    this.rtcpRemote = { address: rinfo.address, port: rinfo.port };
    let packets;
    try {
      packets = parseRtcpCompound(message);
    } catch (error: unknown) {
      this.malformed++;
      this.logger.debug(`call ${this.callId}: malformed RTCP: ${String(error)}`);
      return;
    }
    for (const packet of packets) {
      if (packet.type === 'sr') {
        this.receiverStats.noteSenderReport(packet.sender.ntpSeconds, packet.sender.ntpFraction, this.clock.now());
      }
      if (packet.type === 'sr' || packet.type === 'rr') {
        const aboutUs = packet.reports.find((report) => report.ssrc === this.ssrc);
        if (aboutUs) {
          this.remoteReport = {
            fractionLost: aboutUs.fractionLost,
            cumulativeLost: aboutUs.cumulativeLost,
            jitterMs: (aboutUs.jitter * 1000) / G711_SAMPLE_RATE,
          };
          this.emit('remoteReport', this.remoteReport);
        }
      }
    }
  }

  // ---- outbound ----

  private convertPending(): void {
    while (this.pendingInput.length > 0) {
      const input = this.pendingInput[0];
      if (input.rate === G711_SAMPLE_RATE) {
        this.enqueue8k(input.pcm);
        this.pendingInput.shift();
        continue;
      }
      const resampler = this.downsamplers.get(input.rate);
      if (resampler === 'creating') return;
      if (!resampler) {
        this.createDownsampler(input.rate);
        return;
      }
      this.enqueue8k(float32ToInt16(resampler.process(int16ToFloat32(input.pcm))));
      this.pendingInput.shift();
    }
  }

  private createDownsampler(rate: number): void {
    this.downsamplers.set(rate, 'creating');
    Resampler.create({ fromRate: rate, toRate: G711_SAMPLE_RATE }).then(
      (resampler) => {
        if (this.closing || this.downsamplers.get(rate) !== 'creating') {
          resampler.close();
          return;
        }
        this.downsamplers.set(rate, resampler);
        this.convertPending();
      },
      (error: unknown) => {
        this.logger.error(`call ${this.callId}: cannot create the ${rate}→8 kHz resampler: ${String(error)}`);
        this.downsamplers.delete(rate);
        this.pendingInput.length = 0;
      },
    );
  }

  private enqueue8k(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.playQueue.push(pcm);
    this.playQueueSamples += pcm.length;
  }

  /** The next 20 ms of agent audio (silence-padded), taken from the play queue. */
  private nextAgentFrame(): Int16Array {
    if (this.playQueueSamples === 0 || this.playbackPaused) return this.silence;
    const frame = new Int16Array(SAMPLES_PER_FRAME_8K);
    let filled = 0;
    while (filled < frame.length && this.playQueue.length > 0) {
      const chunk = this.playQueue[0];
      const n = Math.min(chunk.length - this.playQueueOffset, frame.length - filled);
      frame.set(chunk.subarray(this.playQueueOffset, this.playQueueOffset + n), filled);
      filled += n;
      this.playQueueOffset += n;
      if (this.playQueueOffset === chunk.length) {
        this.playQueue.shift();
        this.playQueueOffset = 0;
      }
    }
    this.playQueueSamples -= filled;
    this.playedSamples += filled;
    return frame;
  }

  private onTick(tick: ClockTick): void {
    this.drainJitter(tick.nowMs);
    if (this.timeoutMs > 0 && !this.held && !this.timedOut && tick.nowMs - this.lastInboundMs > this.timeoutMs) {
      this.timedOut = true;
      this.emit('timeout');
    }
    if (tick.index > 0 && tick.index % RTCP_INTERVAL_TICKS === 0) void this.sendRtcp(false);

    const format = this.format;
    const sendable = !this.held && (this.latched ?? this.expected) !== null && format !== null;
    const eventPacket = format ? this.nextDtmfPacket(format) : null;
    const agent = eventPacket ? this.silence : this.nextAgentFrame();
    if (this.listenerCount('agentFrame8k') > 0) this.emit('agentFrame8k', agent);
    if (sendable && format) {
      if (eventPacket)
        this.send(eventPacket.payload, eventPacket.payloadType, eventPacket.marker, eventPacket.timestamp, tick.dueMs);
      else this.send(g711Encode(format.codec, agent), format.payloadType, this.marker, this.timestamp, tick.dueMs);
      if (!eventPacket) this.marker = false;
    }
    this.timestamp = (this.timestamp + SAMPLES_PER_FRAME_8K) >>> 0;
  }

  /** dueMs: the tick's scheduled time; pacing is measured when the socket reports the datagram sent. */
  private send(payload: Uint8Array, payloadType: number, marker: boolean, timestamp: number, dueMs: number): void {
    const target = this.latched ?? this.expected;
    if (!target) return;
    const header = { marker, payloadType, sequenceNumber: this.sequence, timestamp, ssrc: this.ssrc };
    const datagram = serializeRtpPacket(header, payload);
    this.sequence = (this.sequence + 1) & 0xffff;
    this.packetsOut++;
    this.octetsOut += payload.length;
    this.sentSinceReport = true;
    if (this.pacer && !this.sender) this.openSender(target);
    if (this.sender) {
      try {
        this.sender.send(datagram, dueMs + PACER_LEAD_MS);
        this.inPacer.push({ header, payload, dueMs: dueMs + PACER_LEAD_MS });
        if (this.inPacer.length > IN_PACER_KEPT) this.inPacer.shift();
        return;
      } catch (error: unknown) {
        this.logger.error(
          `call ${this.callId}: RTP pacer refused a packet, sending from the event loop from now on: ${error instanceof Error ? error.message : String(error)}`,
        );
        this.sender.close();
        this.sender = null;
        this.sendFromLoop = true;
      }
    }
    this.pair.rtp.send(datagram, target.port, target.address, (error) => {
      // After the send itself (and the others of the same wake-up): what the wire sees, not when we queued it.
      if (!error) this.pacing.record(this.clock.now() - dueMs);
      if (error)
        this.logger.warn(`call ${this.callId}: RTP send to ${target.address}:${target.port}: ${error.message}`);
    });
  }

  private openSender(target: { address: string; port: number }): void {
    if (!this.pacer || this.sendFromLoop) return;
    try {
      this.sender = this.pacer.open(this.pair.rtp, target.address, target.port);
    } catch (error: unknown) {
      this.sendFromLoop = true;
      this.logger.warn(
        `call ${this.callId}: no native RTP pacing, sending from the event loop: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /** The telephone-event packet for this tick, if a digit is being sent (audio pauses meanwhile). */
  private nextDtmfPacket(
    format: MediaFormat,
  ): { payload: Uint8Array; payloadType: number; marker: boolean; timestamp: number } | null {
    if (format.telephoneEventPayloadType === null) return null;
    if (!this.digit) {
      if (this.digitGapTicks > 0) {
        this.digitGapTicks--;
        return null;
      }
      const next = this.digitQueue.shift();
      if (!next) return null;
      this.digit = { code: next.code, startTimestamp: this.timestamp, tick: 0, last: false, resolve: next.resolve };
    }
    const digit = this.digit;
    const end = digit.tick >= DTMF_TONE_TICKS;
    const duration = Math.min(digit.tick + 1, DTMF_TONE_TICKS) * SAMPLES_PER_FRAME_8K;
    const packet = {
      payload: serializeTelephoneEvent({ event: digit.code, end, volume: DTMF_VOLUME, duration }),
      payloadType: format.telephoneEventPayloadType,
      marker: digit.tick === 0,
      timestamp: digit.startTimestamp,
    };
    digit.tick++;
    if (digit.tick >= DTMF_TONE_TICKS + DTMF_END_PACKETS) {
      this.digit = null;
      this.digitGapTicks = DTMF_GAP_TICKS;
      this.marker = true;
      digit.resolve();
    }
    return packet;
  }

  /** Sends a compound report; resolves once the socket has taken it (close() waits so the BYE is not lost). */
  private sendRtcp(bye: boolean): Promise<void> {
    const target = this.rtcpRemote;
    if (!target) return Promise.resolve();
    const now = this.clock.now();
    const wallMs = Date.now();
    const report = serializeRtcpCompound({
      ssrc: this.ssrc,
      cname: `${this.callId}@sovren`,
      sender: this.sentSinceReport
        ? {
            ...ntpTimestamp(wallMs),
            // Packets leave one frame after they are built when the pacer sends them.
            rtpTimestamp: (this.timestamp - (this.sender ? SAMPLES_PER_FRAME_8K : 0)) >>> 0,
            packetCount: this.packetsOut,
            octetCount: this.octetsOut,
          }
        : undefined,
      reports: this.remoteSsrc === null ? [] : [this.receiverStats.reportBlock(this.remoteSsrc, now)],
      bye,
    });
    this.sentSinceReport = false;
    return new Promise((resolve) =>
      this.pair.rtcp.send(report, target.port, target.address, (error) => {
        if (error) this.logger.warn(`call ${this.callId}: RTCP to ${target.address}:${target.port}: ${error.message}`);
        resolve();
      }),
    );
  }
}

/** Addresses an SDP gives from behind NAT (RFC 1918, CGNAT, link-local, unspecified): latch to the real source. */
export function isUnroutable(address: string): boolean {
  if (address === '0.0.0.0' || address === '::') return true;
  const v4 = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(address);
  if (v4) {
    const a = Number(v4[1]);
    const b = Number(v4[2]);
    return (
      a === 10 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254)
    );
  }
  const lower = address.toLowerCase();
  return lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80:');
}
