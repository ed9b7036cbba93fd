import { JitterBuffer, type JitterBufferOutput } from '../jitter-buffer';

const audio = (byte: number) => ({ kind: 'audio' as const, payload: Uint8Array.of(byte) });
const describeOut = (out: JitterBufferOutput[]) =>
  out.map((o) => (o.kind === 'audio' ? `${o.sequenceNumber}:${o.payload[0]}` : `${o.sequenceNumber}:${o.kind}`));

describe('JitterBuffer', () => {
  it('plays packets in sequence order when they arrive reordered', () => {
    const jb = new JitterBuffer();
    jb.push(10, audio(10), 0);
    expect(jb.pop(59)).toEqual([]);
    expect(describeOut(jb.pop(60))).toEqual(['10:10']);
    jb.push(12, audio(12), 20);
    expect(jb.pop(20)).toEqual([]);
    jb.push(11, audio(11), 25);
    expect(describeOut(jb.pop(25))).toEqual(['11:11', '12:12']);
    expect(jb.lost).toBe(0);
    expect(jb.lateOrReordered).toBe(1);
  });

  it('declares a gap lost once `depth` later packets are held', () => {
    const jb = new JitterBuffer({ depth: 3, maxDelayMs: 1000 });
    jb.push(1, audio(1), 0);
    jb.pop(1000);
    jb.push(3, audio(3), 1);
    jb.push(4, audio(4), 2);
    expect(jb.pop(2)).toEqual([]);
    jb.push(5, audio(5), 3);
    expect(describeOut(jb.pop(3))).toEqual(['2:lost', '3:3', '4:4', '5:5']);
    expect(jb.lost).toBe(1);
  });

  it('declares a gap lost once the held packet waited maxDelayMs', () => {
    const jb = new JitterBuffer({ depth: 10, maxDelayMs: 60 });
    jb.push(100, audio(0), 0);
    jb.pop(60);
    jb.push(102, audio(2), 40);
    expect(jb.pop(99)).toEqual([]);
    expect(describeOut(jb.pop(100))).toEqual(['101:lost', '102:2']);
  });

  it('drops a packet that arrives after its turn, and duplicates', () => {
    const jb = new JitterBuffer({ depth: 1 });
    jb.push(1, audio(1), 0);
    expect(describeOut(jb.pop(0))).toEqual(['1:1']);
    jb.push(3, audio(3), 0);
    expect(describeOut(jb.pop(0))).toEqual(['2:lost', '3:3']);
    jb.push(2, audio(2), 5);
    jb.push(4, audio(4), 6);
    jb.push(4, audio(4), 6);
    expect(describeOut(jb.pop(6))).toEqual(['4:4']);
    expect(jb.tooLate).toBe(1);
    expect(jb.duplicates).toBe(1);
  });

  it('follows the sequence number across the 16-bit wrap', () => {
    const jb = new JitterBuffer();
    for (const seq of [65534, 0, 65535, 1]) jb.push(seq, audio(seq & 0xff), 0);
    expect(describeOut(jb.pop(0))).toEqual(['65534:254', '65535:255', '0:0', '1:1']);
    expect(jb.lost).toBe(0);
  });

  it('conceals a long gap only briefly and counts all of it lost', () => {
    const jb = new JitterBuffer({ depth: 1, maxConcealed: 5 });
    jb.push(1, audio(1), 0);
    jb.pop(0);
    jb.push(50, audio(50), 0);
    const out = jb.pop(0);
    expect(out.filter((o) => o.kind === 'lost')).toHaveLength(5);
    expect(describeOut(out).at(-1)).toBe('50:50');
    expect(jb.lost).toBe(48);
  });

  it('restarts on a jump too large to be loss (a new stream)', () => {
    const jb = new JitterBuffer();
    jb.push(1, audio(1), 0);
    jb.pop(60);
    jb.push(30000, audio(9), 80);
    expect(describeOut(jb.pop(140))).toEqual(['30000:9']);
    expect(jb.lost).toBe(0);
  });

  it('starts from the earliest packet when the first ones arrive out of order', () => {
    const jb = new JitterBuffer();
    jb.push(8, audio(8), 0);
    jb.push(7, audio(7), 1);
    expect(jb.pop(1)).toEqual([]);
    jb.push(9, audio(9), 2);
    expect(describeOut(jb.pop(2))).toEqual(['7:7', '8:8', '9:9']);
    expect(jb.lost).toBe(0);
  });

  it('passes telephone-event packets through in order without audio', () => {
    const jb = new JitterBuffer();
    jb.push(1, audio(1), 0);
    jb.push(2, { kind: 'event' }, 0);
    jb.push(3, audio(3), 0);
    expect(describeOut(jb.pop(0))).toEqual(['1:1', '2:event', '3:3']);
  });
});
