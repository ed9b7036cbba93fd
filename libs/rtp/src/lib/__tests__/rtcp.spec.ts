import {
  ReceiverStatistics,
  RtcpParseError,
  ntpMiddle32,
  ntpTimestamp,
  parseRtcpCompound,
  serializeRtcpCompound,
} from '../rtcp';

describe('RTCP', () => {
  it('round-trips a sender report with a report block, CNAME and BYE', () => {
    const bytes = serializeRtcpCompound({
      ssrc: 0x11223344,
      cname: 'call-1@sovren',
      sender: {
        ntpSeconds: 3900000000,
        ntpFraction: 0x80000000,
        rtpTimestamp: 123456,
        packetCount: 50,
        octetCount: 8000,
      },
      reports: [
        {
          ssrc: 0x55667788,
          fractionLost: 0.25,
          cumulativeLost: -3,
          extendedHighestSequence: 0x1ffff,
          jitter: 40,
          lastSenderReport: 0xabcd1234,
          delaySinceLastSenderReport: 65536,
        },
      ],
      bye: true,
    });
    expect(bytes.length % 4).toBe(0);
    const packets = parseRtcpCompound(bytes);
    expect(packets.map((p) => p.type)).toEqual(['sr', 'sdes', 'bye']);
    expect(packets[0]).toEqual({
      type: 'sr',
      ssrc: 0x11223344,
      sender: {
        ntpSeconds: 3900000000,
        ntpFraction: 0x80000000,
        rtpTimestamp: 123456,
        packetCount: 50,
        octetCount: 8000,
      },
      reports: [
        {
          ssrc: 0x55667788,
          fractionLost: 0.25,
          cumulativeLost: -3,
          extendedHighestSequence: 0x1ffff,
          jitter: 40,
          lastSenderReport: 0xabcd1234,
          delaySinceLastSenderReport: 65536,
        },
      ],
    });
    expect(packets[1]).toEqual({ type: 'sdes', chunks: [{ ssrc: 0x11223344, cname: 'call-1@sovren' }] });
    expect(packets[2]).toEqual({ type: 'bye', ssrcs: [0x11223344] });
  });

  it('writes a receiver report when we sent nothing', () => {
    const packets = parseRtcpCompound(serializeRtcpCompound({ ssrc: 1, cname: 'x', reports: [] }));
    expect(packets[0]).toEqual({ type: 'rr', ssrc: 1, reports: [] });
  });

  it('rejects malformed compounds and throws nothing else on random bytes', () => {
    const good = serializeRtcpCompound({ ssrc: 1, cname: 'abc', reports: [] });
    const truncated = good.subarray(0, good.length - 4);
    const countTooBig = Buffer.from(good);
    countTooBig[0] = 0x85; // claims 5 report blocks
    const startsWithSdes = good.subarray(8);
    for (const bytes of [truncated, countTooBig, startsWithSdes, Buffer.from([0x80, 0xc8])]) {
      expect(() => parseRtcpCompound(bytes)).toThrow(RtcpParseError);
    }
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 20000; i++) {
      const bytes = Buffer.from(good);
      for (let j = 0; j < 3; j++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        parseRtcpCompound(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(RtcpParseError);
      }
    }
  });

  it('converts wall-clock time to NTP', () => {
    const { ntpSeconds, ntpFraction } = ntpTimestamp(Date.UTC(2026, 0, 1) + 500);
    expect(ntpSeconds).toBe((Date.UTC(2026, 0, 1) / 1000 + 2208988800) >>> 0);
    expect(ntpFraction).toBe(0x80000000);
    expect(ntpMiddle32(0x12345678, 0x9abcdef0)).toBe(0x56789abc);
  });
});

describe('ReceiverStatistics', () => {
  it('counts loss per RFC 3550 A.3, across the sequence wrap', () => {
    const stats = new ReceiverStatistics();
    let t = 0;
    for (const seq of [65530, 65531, 65533, 65535, 0, 1, 3]) stats.record(seq, (t += 160), t / 8);
    expect(stats.expected).toBe(10);
    expect(stats.cumulativeLost).toBe(3);
    expect(stats.extendedHighestSequence).toBe(0x10000 + 3);
    const block = stats.reportBlock(99, 1000);
    expect(block.fractionLost).toBeCloseTo(0.3);
    expect(block.cumulativeLost).toBe(3);
    stats.record(4, (t += 160), t / 8);
    expect(stats.reportBlock(99, 2000).fractionLost).toBe(0);
  });

  it('has no jitter for evenly spaced packets and converges to the spread otherwise (A.8)', () => {
    const even = new ReceiverStatistics();
    for (let i = 0; i < 100; i++) even.record(i, i * 160, i * 20);
    expect(even.jitterMs).toBe(0);
    const uneven = new ReceiverStatistics();
    for (let i = 0; i < 2000; i++) uneven.record(i, i * 160, i * 20 + (i % 2 ? 4 : 0));
    // |D| alternates 4 ms each packet: J converges to 4 ms.
    expect(uneven.jitterMs).toBeGreaterThan(3.9);
    expect(uneven.jitterMs).toBeLessThanOrEqual(4);
  });
});
