import { RtpParseError, parseRtpPacket, seqDistance, seqNewer, serializeRtpPacket } from '../rtp-packet';

describe('RTP packets', () => {
  it('round-trips the fixed header and payload', () => {
    const bytes = serializeRtpPacket(
      { marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xfffffff0, ssrc: 0xdeadbeef },
      Uint8Array.of(1, 2, 3),
    );
    expect([...bytes.subarray(0, 2)]).toEqual([0x80, 0x88]);
    const packet = parseRtpPacket(bytes);
    expect(packet).toMatchObject({
      marker: true,
      payloadType: 8,
      sequenceNumber: 65535,
      timestamp: 0xfffffff0,
      ssrc: 0xdeadbeef,
    });
    expect([...packet.payload]).toEqual([1, 2, 3]);
  });

  it('skips CSRCs, a header extension and padding', () => {
    const header = [0xb2, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]; // V=2, P, X, CC=2
    const csrcs = [0, 0, 0, 9, 0, 0, 0, 10];
    const extension = [0xbe, 0xde, 0, 1, 1, 2, 3, 4];
    const payload = [7, 7, 7];
    const padding = [0, 0, 3];
    const packet = parseRtpPacket(Uint8Array.from([...header, ...csrcs, ...extension, ...payload, ...padding]));
    expect([...packet.payload]).toEqual(payload);
  });

  it('rejects what is not RTP or lies about its lengths', () => {
    const cases: number[][] = [
      [0x80, 0, 0],
      [0x40, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
      [0x8f, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4],
      [0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 9],
      [0xa0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 200],
      [0xa0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 1, 0],
    ];
    for (const bytes of cases) expect(() => parseRtpPacket(Uint8Array.from(bytes))).toThrow(RtpParseError);
  });

  it('throws nothing but RtpParseError on random datagrams', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 20000; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      if (random() < 0.5 && bytes.length > 0) bytes[0] = 0x80 | (bytes[0] & 0x3f);
      try {
        const packet = parseRtpPacket(bytes);
        expect(packet.payload.byteOffset + packet.payload.length).toBeLessThanOrEqual(bytes.length);
      } catch (error) {
        expect(error).toBeInstanceOf(RtpParseError);
      }
    }
  });

  it('orders sequence numbers across the 16-bit wrap', () => {
    expect(seqNewer(0, 65535)).toBe(true);
    expect(seqNewer(65535, 0)).toBe(false);
    expect(seqDistance(2, 65534)).toBe(4);
    expect(seqDistance(65534, 2)).toBe(-4);
  });
});
