// RTCP (RFC 3550 §6): sender and receiver reports with their report blocks, SDES CNAME and BYE, plus the receive
// statistics a report carries (loss per A.3, interarrival jitter per A.8). Parsing checks every length.
export interface RtcpReportBlock {
  ssrc: number;
  /** Fraction of packets lost since the previous report, 0..1. */
  fractionLost: number;
  cumulativeLost: number;
  extendedHighestSequence: number;
  /** Interarrival jitter in timestamp units. */
  jitter: number;
  lastSenderReport: number;
  delaySinceLastSenderReport: number;
}

export interface RtcpSenderInfo {
  ntpSeconds: number;
  ntpFraction: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
}

export type RtcpPacket =
  | { type: 'sr'; ssrc: number; sender: RtcpSenderInfo; reports: RtcpReportBlock[] }
  | { type: 'rr'; ssrc: number; reports: RtcpReportBlock[] }
  | { type: 'sdes'; chunks: { ssrc: number; cname?: string }[] }
  | { type: 'bye'; ssrcs: number[] }
  | { type: 'other'; packetType: number };

export class RtcpParseError extends Error {}

const PT_SR = 200;
const PT_RR = 201;
const PT_SDES = 202;
const PT_BYE = 203;
const SDES_CNAME = 1;

/** Parses a compound RTCP datagram; throws RtcpParseError for anything malformed. */
export function parseRtcpCompound(datagram: Uint8Array): RtcpPacket[] {
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const packets: RtcpPacket[] = [];
  let offset = 0;
  if (datagram.length < 4) throw new RtcpParseError(`datagram of ${datagram.length} bytes is too short`);
  while (offset < datagram.length) {
    if (offset + 4 > datagram.length) throw new RtcpParseError('truncated RTCP header');
    const b0 = datagram[offset];
    if (b0 >> 6 !== 2) throw new RtcpParseError(`RTCP version ${b0 >> 6} is not 2`);
    const count = b0 & 0x1f;
    const packetType = datagram[offset + 1];
    const length = (view.getUint16(offset + 2) + 1) * 4;
    if (offset + length > datagram.length)
      throw new RtcpParseError(`RTCP packet of ${length} bytes runs past the datagram`);
    let end = offset + length;
    if (b0 & 0x20) {
      const padding = datagram[end - 1];
      if (padding === 0 || padding > length - 4) throw new RtcpParseError(`bad padding length ${padding}`);
      end -= padding;
    }
    const body = offset + 4;
    if (packets.length === 0 && packetType !== PT_SR && packetType !== PT_RR)
      throw new RtcpParseError(`compound RTCP must start with SR or RR, not ${packetType}`);
    switch (packetType) {
      case PT_SR: {
        if (body + 24 + 24 * count > end) throw new RtcpParseError('SR shorter than its report count');
        packets.push({
          type: 'sr',
          ssrc: view.getUint32(body),
          sender: {
            ntpSeconds: view.getUint32(body + 4),
            ntpFraction: view.getUint32(body + 8),
            rtpTimestamp: view.getUint32(body + 12),
            packetCount: view.getUint32(body + 16),
            octetCount: view.getUint32(body + 20),
          },
          reports: readReportBlocks(view, body + 24, count),
        });
        break;
      }
      case PT_RR: {
        if (body + 4 + 24 * count > end) throw new RtcpParseError('RR shorter than its report count');
        packets.push({ type: 'rr', ssrc: view.getUint32(body), reports: readReportBlocks(view, body + 4, count) });
        break;
      }
      case PT_SDES:
        packets.push({ type: 'sdes', chunks: readSdesChunks(datagram, view, body, end, count) });
        break;
      case PT_BYE: {
        if (body + 4 * count > end) throw new RtcpParseError('BYE shorter than its source count');
        const ssrcs: number[] = [];
        for (let i = 0; i < count; i++) ssrcs.push(view.getUint32(body + 4 * i));
        packets.push({ type: 'bye', ssrcs });
        break;
      }
      default:
        packets.push({ type: 'other', packetType });
    }
    offset += length;
  }
  return packets;
}

function readReportBlocks(view: DataView, offset: number, count: number): RtcpReportBlock[] {
  const reports: RtcpReportBlock[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + 24 * i;
    const lostWord = view.getUint32(at + 4);
    let cumulativeLost = lostWord & 0xffffff;
    if (cumulativeLost & 0x800000) cumulativeLost -= 0x1000000; // signed 24-bit
    reports.push({
      ssrc: view.getUint32(at),
      fractionLost: (lostWord >>> 24) / 256,
      cumulativeLost,
      extendedHighestSequence: view.getUint32(at + 8),
      jitter: view.getUint32(at + 12),
      lastSenderReport: view.getUint32(at + 16),
      delaySinceLastSenderReport: view.getUint32(at + 20),
    });
  }
  return reports;
}

function readSdesChunks(bytes: Uint8Array, view: DataView, offset: number, end: number, count: number) {
  const chunks: { ssrc: number; cname?: string }[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) throw new RtcpParseError('SDES chunk runs past its packet');
    const chunk: { ssrc: number; cname?: string } = { ssrc: view.getUint32(at) };
    at += 4;
    for (;;) {
      if (at >= end) throw new RtcpParseError('SDES items run past their packet');
      const itemType = bytes[at];
      if (itemType === 0) break;
      if (at + 2 > end || at + 2 + bytes[at + 1] > end) throw new RtcpParseError('SDES item runs past its packet');
      const length = bytes[at + 1];
      if (itemType === SDES_CNAME) chunk.cname = Buffer.from(bytes.subarray(at + 2, at + 2 + length)).toString('utf8');
      at += 2 + length;
    }
    at = (at + 4) & ~3; // the null item, then padding to a 32-bit boundary
    chunks.push(chunk);
  }
  return chunks;
}

export interface RtcpReportInput {
  ssrc: number;
  cname: string;
  /** Present when we have sent RTP since the last report. */
  sender?: RtcpSenderInfo;
  reports: RtcpReportBlock[];
  bye?: boolean;
}

/** A compound datagram: SR (or RR), SDES CNAME, and BYE when leaving. */
export function serializeRtcpCompound(input: RtcpReportInput): Buffer {
  const parts: Buffer[] = [];
  const reports = input.reports.slice(0, 31);
  const head = Buffer.alloc(8 + (input.sender ? 20 : 0) + 24 * reports.length);
  head[0] = 0x80 | reports.length;
  head[1] = input.sender ? PT_SR : PT_RR;
  head.writeUInt16BE(head.length / 4 - 1, 2);
  head.writeUInt32BE(input.ssrc >>> 0, 4);
  let at = 8;
  if (input.sender) {
    head.writeUInt32BE(input.sender.ntpSeconds >>> 0, 8);
    head.writeUInt32BE(input.sender.ntpFraction >>> 0, 12);
    head.writeUInt32BE(input.sender.rtpTimestamp >>> 0, 16);
    head.writeUInt32BE(input.sender.packetCount >>> 0, 20);
    head.writeUInt32BE(input.sender.octetCount >>> 0, 24);
    at = 28;
  }
  for (const report of reports) {
    head.writeUInt32BE(report.ssrc >>> 0, at);
    const fraction = Math.max(0, Math.min(255, Math.floor(report.fractionLost * 256)));
    const cumulative = Math.max(-0x800000, Math.min(0x7fffff, report.cumulativeLost)) & 0xffffff;
    head.writeUInt32BE(((fraction << 24) | cumulative) >>> 0, at + 4);
    head.writeUInt32BE(report.extendedHighestSequence >>> 0, at + 8);
    head.writeUInt32BE(Math.min(report.jitter, 0xffffffff) >>> 0, at + 12);
    head.writeUInt32BE(report.lastSenderReport >>> 0, at + 16);
    head.writeUInt32BE(report.delaySinceLastSenderReport >>> 0, at + 20);
    at += 24;
  }
  parts.push(head);
  const cname = Buffer.from(input.cname, 'utf8').subarray(0, 255);
  const sdesLength = (4 + 4 + 2 + cname.length + 1 + 3) & ~3;
  const sdes = Buffer.alloc(sdesLength);
  sdes[0] = 0x81;
  sdes[1] = PT_SDES;
  sdes.writeUInt16BE(sdesLength / 4 - 1, 2);
  sdes.writeUInt32BE(input.ssrc >>> 0, 4);
  sdes[8] = SDES_CNAME;
  sdes[9] = cname.length;
  cname.copy(sdes, 10);
  parts.push(sdes);
  if (input.bye) {
    const bye = Buffer.alloc(8);
    bye[0] = 0x81;
    bye[1] = PT_BYE;
    bye.writeUInt16BE(1, 2);
    bye.writeUInt32BE(input.ssrc >>> 0, 4);
    parts.push(bye);
  }
  return Buffer.concat(parts);
}

const NTP_EPOCH_OFFSET_S = 2208988800;

/** Wall-clock milliseconds as the 64-bit NTP timestamp of a sender report. */
export function ntpTimestamp(wallMs: number): { ntpSeconds: number; ntpFraction: number } {
  const seconds = Math.floor(wallMs / 1000);
  return {
    ntpSeconds: (seconds + NTP_EPOCH_OFFSET_S) >>> 0,
    ntpFraction: Math.floor(((wallMs - seconds * 1000) / 1000) * 0x100000000) >>> 0,
  };
}

/** The middle 32 bits of an NTP timestamp (the LSR field of a report block). */
export function ntpMiddle32(ntpSeconds: number, ntpFraction: number): number {
  return (((ntpSeconds & 0xffff) << 16) | (ntpFraction >>> 16)) >>> 0;
}

/** What we know about one incoming stream (RFC 3550 A.1, A.3, A.8). */
export class ReceiverStatistics {
  received = 0;
  /** Interarrival jitter in timestamp units. */
  jitter = 0;
  private baseSeq = -1;
  private maxSeq = 0;
  private cycles = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  private lastTransit: number | null = null;
  private lastSenderReport = 0;
  private lastSenderReportAtMs = 0;

  constructor(private readonly clockRate = 8000) {}

  /** One RTP packet of the stream, arriving at `arrivalMs` (a monotonic clock). */
  record(sequenceNumber: number, timestamp: number, arrivalMs: number): void {
    if (this.baseSeq < 0) {
      this.baseSeq = sequenceNumber;
      this.maxSeq = sequenceNumber;
    } else {
      const delta = (sequenceNumber - this.maxSeq) & 0xffff;
      if (delta > 0 && delta < 0x8000) {
        if (sequenceNumber < this.maxSeq) this.cycles += 0x10000;
        this.maxSeq = sequenceNumber;
      }
    }
    this.received++;
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - timestamp;
    if (this.lastTransit !== null) {
      let d = Math.abs(transit - this.lastTransit);
      // A timestamp wrap (2^32) is not jitter.
      if (d > 0x80000000) d = Math.abs(d - 0x100000000);
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
  }

  get extendedHighestSequence(): number {
    return this.cycles + this.maxSeq;
  }

  get expected(): number {
    return this.baseSeq < 0 ? 0 : this.extendedHighestSequence - this.baseSeq + 1;
  }

  get cumulativeLost(): number {
    return this.expected - this.received;
  }

  get jitterMs(): number {
    return (this.jitter * 1000) / this.clockRate;
  }

  /** Remembers the peer's last SR, for the LSR/DLSR fields (round-trip time at the peer). */
  noteSenderReport(ntpSeconds: number, ntpFraction: number, nowMs: number): void {
    this.lastSenderReport = ntpMiddle32(ntpSeconds, ntpFraction);
    this.lastSenderReportAtMs = nowMs;
  }

  /** The report block for our next SR/RR; advances the "since last report" interval. */
  reportBlock(ssrc: number, nowMs: number): RtcpReportBlock {
    const expected = this.expected;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    return {
      ssrc,
      fractionLost: expectedInterval <= 0 || lostInterval <= 0 ? 0 : lostInterval / expectedInterval,
      cumulativeLost: this.cumulativeLost,
      extendedHighestSequence: this.extendedHighestSequence,
      jitter: Math.round(this.jitter),
      lastSenderReport: this.lastSenderReport,
      delaySinceLastSenderReport: this.lastSenderReport
        ? Math.round(((nowMs - this.lastSenderReportAtMs) / 1000) * 65536)
        : 0,
    };
  }
}
