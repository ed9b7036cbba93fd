import { type ClockSource, type ClockTick, LatenessHistogram, MediaClock } from '../media-clock';

/** A clock whose timers fire when the test advances time, `lateMs` after they were due (a busy event loop). */
class FakeClock implements ClockSource {
  time = 1000;
  lateMs = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.time + Math.max(1, Math.ceil(delayMs)) + this.lateMs, callback, id });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }

  advanceTo(until: number): void {
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.time = next.at;
      next.callback();
    }
    this.time = until;
  }
}

describe('MediaClock', () => {
  it('schedules every tick against absolute time: no drift over a 10-minute call even when timers fire late', () => {
    const source = new FakeClock();
    source.lateMs = 1.7; // every wake-up late: chained 20 ms timers would drift 1.7 ms per packet
    const clock = new MediaClock(source);
    const ticks: ClockTick[] = [];
    clock.schedule(20, (tick) => ticks.push(tick), 1000);
    source.advanceTo(1000 + 10 * 60 * 1000);
    expect(ticks.length).toBeGreaterThanOrEqual(30_000 - 1);
    expect(ticks.length).toBeLessThanOrEqual(30_001);
    ticks.forEach((tick, n) => {
      expect(tick.index).toBe(n);
      expect(tick.dueMs).toBe(1000 + 20 * n);
      expect(tick.nowMs - tick.dueMs).toBeLessThan(3);
    });
  });

  it('runs many streams from one timer, each on its own phase', () => {
    const source = new FakeClock();
    const clock = new MediaClock(source);
    const seen: string[] = [];
    clock.schedule(20, (t) => seen.push(`a${t.index}`), 1000);
    clock.schedule(20, (t) => seen.push(`b${t.index}`), 1010);
    source.advanceTo(1045);
    expect(seen).toEqual(['a0', 'b0', 'a1', 'b1', 'a2']);
    expect(clock.streams).toBe(2);
  });

  it('catches up a short stall with the missed ticks and skips a long one', () => {
    const source = new FakeClock();
    const clock = new MediaClock(source);
    const indices: number[] = [];
    clock.schedule(20, (t) => indices.push(t.index), 1000);
    source.advanceTo(1000);
    source.lateMs = 60; // a 60 ms stall: three ticks due at once
    source.advanceTo(1001);
    source.lateMs = 0;
    source.advanceTo(1100);
    expect(indices).toEqual([0, 1, 2, 3, 4, 5]);
    source.lateMs = 1000; // a 1 s stall: no burst of 50 packets
    source.advanceTo(3000);
    expect(indices.length).toBeLessThan(6 + 20);
  });

  it('stops a stream and keeps the others ticking', () => {
    const source = new FakeClock();
    const clock = new MediaClock(source);
    let a = 0;
    let b = 0;
    const streamA = clock.schedule(20, () => a++, 1000);
    clock.schedule(20, () => b++, 1000);
    source.advanceTo(1050);
    streamA.stop();
    streamA.stop();
    source.advanceTo(1200);
    expect(a).toBe(3);
    expect(b).toBe(11);
  });
});

describe('LatenessHistogram', () => {
  it('gives the 99th percentile within one 0.05 ms bin', () => {
    const histogram = new LatenessHistogram();
    for (let i = 0; i < 990; i++) histogram.record(0.32);
    for (let i = 0; i < 10; i++) histogram.record(-4.02);
    expect(histogram.quantile(0.99)).toBeCloseTo(0.35, 5);
    expect(histogram.quantile(1)).toBeCloseTo(4.05, 5);
  });
});
