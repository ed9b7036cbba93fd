import { DtmfReceiver, dtmfEventCode, parseTelephoneEvent, serializeTelephoneEvent } from '../dtmf';

describe('RFC 4733 telephone-events', () => {
  it('round-trips the payload', () => {
    const bytes = serializeTelephoneEvent({ event: 11, end: true, volume: 10, duration: 800 });
    expect([...bytes]).toEqual([11, 0x8a, 0x03, 0x20]);
    expect(parseTelephoneEvent(bytes)).toEqual({ event: 11, end: true, volume: 10, duration: 800 });
    expect(() => parseTelephoneEvent(Uint8Array.of(1, 2))).toThrow();
  });

  it('maps digits to event codes', () => {
    expect([...'0123456789*#ABCD'].map(dtmfEventCode)).toEqual([...Array(16).keys()]);
    expect(dtmfEventCode('x')).toBe(-1);
    expect(dtmfEventCode('12')).toBe(-1);
  });

  it('reports each digit once although its end packet comes three times', () => {
    const digits: [string, number][] = [];
    const receiver = new DtmfReceiver((digit, ms) => digits.push([digit, ms]));
    for (const duration of [160, 320, 480, 640]) receiver.receive(1000, { event: 5, end: false, volume: 10, duration });
    for (let i = 0; i < 3; i++) receiver.receive(1000, { event: 5, end: true, volume: 10, duration: 800 });
    receiver.receive(5000, { event: 11, end: true, volume: 10, duration: 400 });
    receiver.receive(5000, { event: 11, end: true, volume: 10, duration: 400 });
    expect(digits).toEqual([
      ['5', 100],
      ['#', 50],
    ]);
  });

  it('still reports a digit whose end packets were lost once the next event starts', () => {
    const digits: string[] = [];
    const receiver = new DtmfReceiver((digit) => digits.push(digit));
    receiver.receive(1000, { event: 1, end: false, volume: 10, duration: 160 });
    receiver.receive(3000, { event: 2, end: false, volume: 10, duration: 160 });
    expect(digits).toEqual(['1']);
    receiver.finishCurrent();
    expect(digits).toEqual(['1', '2']);
  });

  it('ignores events that are not DTMF digits (flash-hook)', () => {
    const digits: string[] = [];
    const receiver = new DtmfReceiver((digit) => digits.push(digit));
    receiver.receive(1000, { event: 16, end: true, volume: 10, duration: 160 });
    expect(digits).toEqual([]);
  });
});
