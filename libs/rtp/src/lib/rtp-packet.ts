// RTP fixed header (RFC 3550 §5.1): parsing validates every length against the datagram; nothing is trusted.
export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** A view into the datagram (no copy): valid until the buffer is reused. */
  payload: Uint8Array;
}

export class RtpParseError extends Error {}

const RTP_HEADER_BYTES = 12;

export function parseRtpPacket(datagram: Uint8Array): RtpPacket {
  if (datagram.length < RTP_HEADER_BYTES) throw new RtpParseError(`datagram of ${datagram.length} bytes is too short`);
  const b0 = datagram[0];
  if (b0 >> 6 !== 2) throw new RtpParseError(`RTP version ${b0 >> 6} is not 2`);
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_BYTES + 4 * csrcCount;
  if (offset > datagram.length) throw new RtpParseError('CSRC list runs past the datagram');
  if (b0 & 0x10) {
    if (offset + 4 > datagram.length) throw new RtpParseError('header extension runs past the datagram');
    const words = view.getUint16(offset + 2);
    offset += 4 + 4 * words;
    if (offset > datagram.length) throw new RtpParseError('header extension runs past the datagram');
  }
  let end = datagram.length;
  if (b0 & 0x20) {
    const padding = datagram[datagram.length - 1];
    if (padding === 0 || end - padding < offset) throw new RtpParseError(`bad padding length ${padding}`);
    end -= padding;
  }
  const b1 = datagram[1];
  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payload: datagram.subarray(offset, end),
  };
}

/** Writes a plain RTP packet (no CSRC, extension or padding). */
export function serializeRtpPacket(packet: Omit<RtpPacket, 'payload'>, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RTP_HEADER_BYTES + payload.length);
  out[0] = 0x80;
  out[1] = (packet.marker ? 0x80 : 0) | (packet.payloadType & 0x7f);
  out.writeUInt16BE(packet.sequenceNumber & 0xffff, 2);
  out.writeUInt32BE(packet.timestamp >>> 0, 4);
  out.writeUInt32BE(packet.ssrc >>> 0, 8);
  out.set(payload, RTP_HEADER_BYTES);
  return out;
}

/** True when RTP sequence number `a` comes after `b` (mod 2^16, RFC 3550 A.1). */
export function seqNewer(a: number, b: number): boolean {
  const diff = (a - b) & 0xffff;
  return diff !== 0 && diff < 0x8000;
}

/** Signed distance a - b in sequence space (-32768..32767). */
export function seqDistance(a: number, b: number): number {
  const diff = (a - b) & 0xffff;
  return diff >= 0x8000 ? diff - 0x10000 : diff;
}
