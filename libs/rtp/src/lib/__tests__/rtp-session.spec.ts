import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, writeWav } from '@sovren/audio';
import { eventually } from '@sovren/testing';
import { CallRecorder } from '../call-recorder';
import { parseTelephoneEvent, serializeTelephoneEvent } from '../dtmf';
import { g711Decode, g711Encode } from '../g711';
import { playWav, startEcho } from '../media-apps';
import type { MediaFormat } from '../media-format';
import { parseRtcpCompound, serializeRtcpCompound } from '../rtcp';
import { parseRtpPacket, serializeRtpPacket, type RtpPacket } from '../rtp-packet';
import { createRtpPortPool, type RtpPortPool } from '../rtp-port-pool';
import { sharedRtpPacer, udpSocketFd } from '../rtp-pacer';
import { RtpSession } from '../rtp-session';

const PCMU: MediaFormat = { codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: 101 };

/** The far end: a plain UDP socket pair speaking RTP to the session, as a carrier or a phone would. */
class Peer {
  readonly received: RtpPacket[] = [];
  readonly rtcpReceived: Buffer[] = [];
  private seq = 1000;
  private ts = 50_000;

  private constructor(
    readonly rtp: Socket,
    readonly rtcp: Socket,
  ) {
    rtp.on('message', (message) => {
      const packet = parseRtpPacket(message);
      this.received.push({ ...packet, payload: packet.payload.slice() });
    });
    rtcp.on('message', (message) => this.rtcpReceived.push(message));
  }

  static async open(address = '127.0.0.1'): Promise<Peer> {
    for (;;) {
      const rtp = await bind(address, 0);
      const rtcp = await bind(address, rtp.address().port + 1).catch(() => null);
      if (rtcp) return new Peer(rtp, rtcp);
      rtp.close();
    }
  }

  get port(): number {
    return this.rtp.address().port;
  }

  sendAudio(session: RtpSession, pcm8k: Int16Array, options: { skip?: Set<number>; swapPairs?: boolean } = {}): void {
    const packets: Buffer[] = [];
    for (let offset = 0, n = 0; offset + 160 <= pcm8k.length; offset += 160, n++) {
      const seq = this.seq++ & 0xffff;
      const ts = (this.ts += 160);
      if (options.skip?.has(n)) continue;
      const payload = g711Encode('PCMU', pcm8k.subarray(offset, offset + 160));
      packets.push(
        serializeRtpPacket(
          { marker: n === 0, payloadType: 0, sequenceNumber: seq, timestamp: ts, ssrc: 0x1234 },
          payload,
        ),
      );
    }
    if (options.swapPairs) {
      for (let i = 0; i + 1 < packets.length; i += 2) [packets[i], packets[i + 1]] = [packets[i + 1], packets[i]];
    }
    for (const packet of packets) this.rtp.send(packet, session.localPort, '127.0.0.1');
  }

  sendDigit(session: RtpSession, event: number): void {
    const ts = (this.ts += 160);
    for (const [duration, end] of [
      [160, false],
      [320, false],
      [480, false],
      [640, true],
      [640, true],
      [640, true],
    ] as const) {
      const payload = serializeTelephoneEvent({ event, end, volume: 10, duration });
      const packet = serializeRtpPacket(
        {
          marker: duration === 160,
          payloadType: 101,
          sequenceNumber: this.seq++ & 0xffff,
          timestamp: ts,
          ssrc: 0x1234,
        },
        payload,
      );
      this.rtp.send(packet, session.localPort, '127.0.0.1');
    }
  }

  /** Audio the session sent us, decoded (telephone-events left out). */
  audio(): Int16Array {
    const frames = this.received.filter((p) => p.payloadType === 0).map((p) => g711Decode('PCMU', p.payload));
    const out = new Int16Array(frames.length * 160);
    frames.forEach((frame, i) => out.set(frame, i * 160));
    return out;
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

function bind(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(port, address, () => resolve(socket));
  });
}

function tone(hz: number, ms: number, rate = 8000, amplitude = 8000): Int16Array {
  const out = new Int16Array((rate * ms) / 1000);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** Energy of `hz` in the signal relative to its total energy (Goertzel): near 1 for a clean tone of that pitch. */
function toneShare(whole: Int16Array, hz: number, rate = 8000): number {
  // Only the part that carries sound: leading and trailing silence would dilute the share.
  let first = 0;
  let last = whole.length;
  while (first < last && Math.abs(whole[first]) < 200) first++;
  while (last > first && Math.abs(whole[last - 1]) < 200) last--;
  const signal = whole.subarray(first, last);
  if (signal.length === 0) return 0;
  const k = (2 * Math.PI * hz) / rate;
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of signal) {
    const s0 = x + 2 * Math.cos(k) * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - 2 * Math.cos(k) * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (signal.length * energy);
}

describe('RtpSession over loopback UDP', () => {
  const base = 20000 + (process.pid % 2000) * 10;
  let pool: RtpPortPool;
  let peer: Peer;
  const sessions: RtpSession[] = [];
  const open = async (options: Partial<Parameters<typeof RtpSession.open>[0]> = {}) => {
    const session = await RtpSession.open({
      pool,
      callId: `call-${sessions.length}`,
      remote: { address: '127.0.0.1', port: peer.port },
      format: PCMU,
      ...options,
    });
    sessions.push(session);
    return session;
  };

  beforeEach(async () => {
    pool = createRtpPortPool({ min: base, max: base + 9, bindAddress: '127.0.0.1' });
    peer = await Peer.open();
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    peer.close();
  });

  it('binds an even RTP port with RTCP on the next one, from the configured range', async () => {
    const session = await open();
    expect(session.localPort % 2).toBe(0);
    expect(session.localPort).toBeGreaterThanOrEqual(base);
    expect(session.localPort).toBeLessThanOrEqual(base + 8);
    expect(pool.inUse).toBe(1);
    await session.close();
    await session.close();
    expect(pool.inUse).toBe(0);
  });

  it('gives the ports back when the remote address is invalid', async () => {
    await expect(open({ remote: { address: 'not-an-ip', port: 4000 } })).rejects.toThrow(RangeError);
    expect(pool.inUse).toBe(0);
  });

  it('sends a packet every 20 ms with contiguous sequence numbers and timestamps', async () => {
    const session = await open();
    await eventually('10 packets', () => peer.received.length >= 10);
    const packets = peer.received.slice(0, 10);
    packets.forEach((p, i) => {
      if (i === 0) return;
      expect(p.sequenceNumber).toBe((packets[0].sequenceNumber + i) & 0xffff);
      expect(p.timestamp).toBe((packets[0].timestamp + 160 * i) >>> 0);
      expect(p.ssrc).toBe(packets[0].ssrc);
    });
    expect(packets[0].marker).toBe(true);
    expect(session.stats().packetsOut).toBeGreaterThanOrEqual(10);
  });

  it('echoes the caller audio back after latching to its source', async () => {
    const session = await open();
    startEcho(session);
    peer.sendAudio(session, tone(440, 400));
    await eventually('the tone echoed', () => toneShare(peer.audio(), 440) > 0.8);
    expect(session.stats()).toMatchObject({ packetsIn: 20, lost: 0, remoteLatched: true });
  });

  it('reorders swapped packets and conceals a lost one', async () => {
    const session = await open();
    const frames: Int16Array[] = [];
    session.on('callerFrame8k', (frame) => frames.push(frame));
    peer.sendAudio(session, tone(440, 200), { swapPairs: true, skip: new Set([4]) });
    await eventually('10 frames out of the jitter buffer', () => frames.length >= 10);
    const stats = session.stats();
    expect(stats.lost).toBe(1);
    expect(stats.lateOrReordered).toBeGreaterThan(0);
    // The concealed frame repeats the previous one at half level instead of a hole of silence.
    const energy = (f: Int16Array) => f.reduce((n, x) => n + Math.abs(x), 0);
    expect(energy(frames[4])).toBeGreaterThan(0.3 * energy(frames[3]));
  });

  it('drops RTP from an address the SDP did not name', async () => {
    const session = await open();
    const stranger = await Peer.open('127.0.0.2');
    try {
      const frames: Int16Array[] = [];
      session.on('callerFrame8k', (frame) => frames.push(frame));
      stranger.sendAudio(session, tone(1000, 100));
      await eventually('the stranger dropped', () => session.stats().droppedForeign === 5);
      expect(session.stats()).toMatchObject({ packetsIn: 0, remoteLatched: false });
      peer.sendAudio(session, tone(440, 100));
      await eventually('the peer heard', () => frames.length === 5);
      stranger.sendAudio(session, tone(1000, 100));
      await eventually('the stranger dropped again', () => session.stats().droppedForeign === 10);
      expect(session.stats().packetsIn).toBe(5);
    } finally {
      stranger.close();
    }
  });

  it('latches to the real source port when the SDP gave a private address (symmetric RTP)', async () => {
    const session = await open({ remote: { address: '192.168.1.20', port: 4000 } });
    peer.sendAudio(session, tone(440, 100));
    await eventually('latched', () => session.stats().remoteLatched);
    const before = peer.received.length;
    await eventually('our RTP goes to the latched source', () => peer.received.length > before + 3);
  });

  it('hands 16 kHz frames of 320 samples to audio listeners', async () => {
    const session = await open();
    const frames: Int16Array[] = [];
    session.on('audio', (frame) => frames.push(frame));
    peer.sendAudio(session, tone(440, 1000));
    await eventually('45 frames at 16 kHz', () => frames.length >= 45);
    expect(frames.every((f) => f.length === 320)).toBe(true);
    const joined = new Int16Array(frames.length * 320);
    frames.forEach((f, i) => joined.set(f, i * 320));
    expect(toneShare(joined.subarray(640), 440, 16000)).toBeGreaterThan(0.9);
  });

  it('plays 24 kHz agent audio resampled to 8 kHz and reports what was sent on flush', async () => {
    const session = await open();
    session.play(tone(1000, 400, 24000), 24000);
    await eventually('queued audio sent', () => session.playbackQueuedMs === 0 && peer.received.length > 25);
    expect(toneShare(peer.audio(), 1000)).toBeGreaterThan(0.8);
    session.play(tone(1000, 2000, 24000), 24000);
    await eventually('some of it sent', () => session.playbackQueuedMs < 1900 && session.playbackQueuedMs > 0);
    const sentMs = session.flushPlayback();
    expect(sentMs).toBeGreaterThan(400);
    expect(sentMs).toBeLessThan(2400);
    expect(session.playbackQueuedMs).toBe(0);
  });

  it('reports each DTMF digit the caller presses once', async () => {
    const session = await open();
    const digits: [string, number][] = [];
    session.on('dtmf', (digit, ms) => digits.push([digit, ms]));
    peer.sendAudio(session, tone(440, 40));
    peer.sendDigit(session, 5);
    peer.sendDigit(session, 11);
    await eventually('two digits', () => digits.length === 2);
    expect(digits).toEqual([
      ['5', 80],
      ['#', 80],
    ]);
    expect(session.stats().lost).toBe(0);
  });

  it('sends DTMF as RFC 4733 events with three end packets', async () => {
    const session = await open();
    await session.sendDtmf('1#');
    await eventually(
      'all event packets arrived',
      () => peer.received.filter((p) => p.payloadType === 101).length === 16,
    );
    const events = peer.received.filter((p) => p.payloadType === 101);
    const byTimestamp = new Map<number, ReturnType<typeof parseTelephoneEvent>[]>();
    for (const p of events)
      byTimestamp.set(p.timestamp, [...(byTimestamp.get(p.timestamp) ?? []), parseTelephoneEvent(p.payload)]);
    const digits = [...byTimestamp.values()];
    expect(digits.map((d) => d[0].event)).toEqual([1, 11]);
    for (const packets of digits) {
      expect(packets.filter((e) => e.end)).toHaveLength(3);
      expect(packets.at(-1)?.duration).toBe(800);
    }
    expect(events.filter((p) => p.marker)).toHaveLength(2);
    await expect(session.sendDtmf('x')).rejects.toThrow(RangeError);
  });

  it('stops sending while on hold and resumes after', async () => {
    const session = await open();
    await eventually('sending', () => peer.received.length > 2);
    session.hold(true);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const held = peer.received.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(peer.received.length).toBe(held);
    session.hold(false);
    await eventually('sending again', () => peer.received.length > held + 2);
  });

  it('times out when no RTP arrives', async () => {
    const session = await open({ timeoutMs: 200 });
    const timedOut = new Promise<void>((resolve) => session.on('timeout', resolve));
    await timedOut;
  });

  it('reads the peer RTCP report about our stream and says goodbye with a report on close', async () => {
    const session = await open();
    peer.sendAudio(session, tone(440, 100));
    await eventually('latched', () => peer.received.length > 0 && session.stats().remoteLatched);
    const ourSsrc = peer.received[0].ssrc;
    const rr = serializeRtcpCompound({
      ssrc: 0x1234,
      cname: 'peer',
      reports: [
        {
          ssrc: ourSsrc,
          fractionLost: 0.5,
          cumulativeLost: 7,
          extendedHighestSequence: 1,
          jitter: 80,
          lastSenderReport: 0,
          delaySinceLastSenderReport: 0,
        },
      ],
    });
    peer.rtcp.send(rr, session.localPort + 1, '127.0.0.1');
    await eventually('the report read', () => session.stats().remoteReport);
    expect(session.stats().remoteReport).toEqual({ fractionLost: 0.5, cumulativeLost: 7, jitterMs: 10 });
    await session.close();
    await eventually('RTCP BYE', () => peer.rtcpReceived.length > 0);
    const packets = parseRtcpCompound(peer.rtcpReceived[0]);
    expect(packets.map((p) => p.type)).toEqual(['sr', 'sdes', 'bye']);
    const sr = packets[0];
    expect(sr.type === 'sr' && sr.reports[0]).toMatchObject({ ssrc: 0x1234, cumulativeLost: 0 });
  });

  describe('media applications', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rtp-media-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('plays a WAV prompt at its own rate and resolves when it has been sent', async () => {
      const session = await open();
      const wavPath = join(dir, 'prompt.wav');
      await writeFile(wavPath, writeWav(tone(600, 500, 16000), 16000));
      await playWav(session, wavPath);
      expect(session.playbackQueuedMs).toBe(0);
      expect(toneShare(peer.audio(), 600)).toBeGreaterThan(0.8);
    });

    it('records the caller on the left and the agent on the right of a stereo WAV', async () => {
      const session = await open();
      const recorder = await CallRecorder.open(join(dir, '2026', '12', 'call.wav'), 8000);
      recorder.attach(session);
      session.play(tone(1000, 600), 8000);
      peer.sendAudio(session, tone(440, 600));
      await eventually('agent audio sent', () => session.playbackQueuedMs === 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const result = await recorder.close();
      const wav = readWav(await readFile(result.path));
      expect(wav).toMatchObject({ sampleRate: 8000, channels: 2 });
      expect(result.bytes).toBe(44 + wav.frames * 4);
      expect(result.durationMs).toBe((wav.frames * 1000) / 8000);
      const left = new Int16Array(wav.frames);
      const right = new Int16Array(wav.frames);
      for (let i = 0; i < wav.frames; i++) {
        left[i] = Math.round(wav.samples[2 * i] * 32768);
        right[i] = Math.round(wav.samples[2 * i + 1] * 32768);
      }
      expect(toneShare(left, 440)).toBeGreaterThan(0.5);
      expect(toneShare(left, 1000)).toBeLessThan(0.05);
      expect(toneShare(right, 1000)).toBeGreaterThan(0.5);
      expect(toneShare(right, 440)).toBeLessThan(0.05);
    });
  });
});

describe('RtpSession pacing', () => {
  const base = 24000 + (process.pid % 2000) * 10;

  it('finds the descriptor under a bound dgram socket', async () => {
    const socket = await bind('127.0.0.1', 0);
    try {
      expect(udpSocketFd(socket)).toBeGreaterThan(2);
    } finally {
      socket.close();
    }
  });

  it.each([
    { via: 'the native pacer thread', native: true },
    { via: 'the event loop', native: false },
  ])('sends contiguous 20 ms packets through $via and reports their pacing', async ({ native }) => {
    const pool = createRtpPortPool({ min: base, max: base + 9, bindAddress: '127.0.0.1' });
    const peer = await Peer.open();
    const chosen = native ? sharedRtpPacer() : null;
    if (native) expect(chosen).not.toBeNull(); // the addon is built before these tests
    const session = await RtpSession.open({
      pool,
      callId: 'paced',
      remote: { address: '127.0.0.1', port: peer.port },
      format: PCMU,
      pacer: chosen,
    });
    try {
      await eventually('25 packets', () => peer.received.length >= 25);
      const packets = peer.received.slice(0, 25);
      packets.forEach((p, i) => expect(p.sequenceNumber).toBe((packets[0].sequenceNumber + i) & 0xffff));
      expect(session.stats().pacingP99Ms).toBeGreaterThan(0);
    } finally {
      await session.close();
      peer.close();
    }
    // Closed: the pacer has forgotten the socket, and the stats stay readable.
    expect(session.stats().packetsOut).toBeGreaterThanOrEqual(25);
  });

  it('takes back agent audio the pacer has not sent yet when playback pauses (barge-in)', async () => {
    const pool = createRtpPortPool({ min: base, max: base + 9, bindAddress: '127.0.0.1' });
    const peer = await Peer.open();
    const session = await RtpSession.open({
      pool,
      callId: 'barge-in',
      remote: { address: '127.0.0.1', port: peer.port },
      format: PCMU,
    });
    const silent = (p: RtpPacket) => p.payload.every((b) => b === 0xff || b === 0x7f);
    try {
      session.play(tone(440, 3000), 8000);
      await eventually(
        'the tone is on the wire',
        () => peer.received.length > 5 && !silent(peer.received[peer.received.length - 1]),
      );
      const sender = session['sender'];
      if (!sender) throw new Error('the session does not use the native pacer');
      const onWire = sender.stats().sent; // everything after this was still in the pacer's hands
      session.pausePlayback(true);
      await eventually('20 more packets', () => peer.received.length >= onWire + 20);
      const first = peer.received[0].sequenceNumber;
      const after = peer.received.filter((p) => ((p.sequenceNumber - first) & 0xffff) >= onWire);
      expect(after.length).toBeGreaterThanOrEqual(20);
      expect(after.every(silent)).toBe(true);
      after.forEach((p, i) => expect(p.sequenceNumber).toBe((after[0].sequenceNumber + i) & 0xffff)); // no gap
    } finally {
      await session.close();
      peer.close();
    }
  });
});
