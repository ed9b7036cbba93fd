// One timer for every call's 20 ms packets. Each stream's n-th tick is due at start + n × 20 ms (absolute time, so
// late wake-ups never accumulate into drift); the clock wakes for the earliest due tick and runs all that are due.
import { performance } from 'node:perf_hooks';

export interface ClockSource {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: ClockSource = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ClockTick {
  /** Tick index since the stream started (0, 1, ...). */
  index: number;
  dueMs: number;
  nowMs: number;
}

export interface PacedStream {
  /** Stops the stream's ticks; idempotent. */
  stop(): void;
}

interface Entry {
  dueMs: number;
  index: number;
  readonly startMs: number;
  readonly periodMs: number;
  readonly onTick: (tick: ClockTick) => void;
  stopped: boolean;
  heapIndex: number;
}

/** Ticks up to this much early run now: Node timers have 1 ms resolution, so waiting for them would be later. */
const EARLY_MS = 0.5;
/** A stream more than this many ticks behind (a stalled event loop) skips ahead instead of bursting. */
const MAX_CATCH_UP_TICKS = 5;

export class MediaClock {
  private readonly heap: Entry[] = [];
  private timer: unknown = null;
  private timerDueMs = Infinity;

  constructor(private readonly source: ClockSource = systemClock) {}

  get streams(): number {
    return this.heap.length;
  }

  now(): number {
    return this.source.now();
  }

  /** Calls `onTick` at start + n × periodMs for n = 0, 1, ... until stopped. */
  schedule(periodMs: number, onTick: (tick: ClockTick) => void, startMs = this.source.now()): PacedStream {
    const entry: Entry = { dueMs: startMs, index: 0, startMs, periodMs, onTick, stopped: false, heapIndex: -1 };
    this.push(entry);
    this.arm();
    return {
      stop: () => {
        if (entry.stopped) return;
        entry.stopped = true;
        this.remove(entry);
        this.arm();
      },
    };
  }

  private run = (): void => {
    this.timer = null;
    this.timerDueMs = Infinity;
    const now = this.source.now();
    while (this.heap.length > 0 && this.heap[0].dueMs <= now + EARLY_MS) {
      const entry = this.heap[0];
      const tick = { index: entry.index, dueMs: entry.dueMs, nowMs: now };
      let behind = Math.floor((now - entry.dueMs) / entry.periodMs);
      if (behind > MAX_CATCH_UP_TICKS) {
        entry.index += behind;
        behind = 0;
      }
      entry.index++;
      entry.dueMs = entry.startMs + entry.index * entry.periodMs;
      this.siftDown(0);
      try {
        entry.onTick(tick);
      } catch (error: unknown) {
        // A stream's fault must not stop every other call's media; the stream is stopped and the error surfaces.
        entry.stopped = true;
        this.remove(entry);
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.arm();
  };

  private arm(): void {
    if (this.heap.length === 0) {
      if (this.timer !== null) this.source.clearTimer(this.timer);
      this.timer = null;
      this.timerDueMs = Infinity;
      return;
    }
    const due = this.heap[0].dueMs;
    if (this.timer !== null && this.timerDueMs <= due) return;
    if (this.timer !== null) this.source.clearTimer(this.timer);
    this.timerDueMs = due;
    this.timer = this.source.setTimer(this.run, Math.max(0, due - EARLY_MS - this.source.now()));
  }

  private push(entry: Entry): void {
    entry.heapIndex = this.heap.length;
    this.heap.push(entry);
    this.siftUp(entry.heapIndex);
  }

  private remove(entry: Entry): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    const last = this.heap.pop() as Entry;
    entry.heapIndex = -1;
    if (last === entry) return;
    this.heap[i] = last;
    last.heapIndex = i;
    this.siftDown(i);
    this.siftUp(i);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].dueMs <= heap[i].dueMs) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && heap[left].dueMs < heap[smallest].dueMs) smallest = left;
      if (right < heap.length && heap[right].dueMs < heap[smallest].dueMs) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap;
    [heap[a], heap[b]] = [heap[b], heap[a]];
    heap[a].heapIndex = a;
    heap[b].heapIndex = b;
  }
}

/** The clock every session in the process shares unless given its own. */
export const sharedMediaClock = new MediaClock();

/** Lateness samples in 0.05 ms bins up to 50 ms: p99 without keeping every sample of a 10-minute call. */
export class LatenessHistogram {
  private static readonly BIN_MS = 0.05;
  private readonly bins = new Uint32Array(1001);
  count = 0;
  maxMs = 0;

  record(ms: number): void {
    const value = Math.abs(ms);
    const bin = Math.min(this.bins.length - 1, Math.floor(value / LatenessHistogram.BIN_MS));
    this.bins[bin]++;
    this.count++;
    if (value > this.maxMs) this.maxMs = value;
  }

  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= target) return (i + 1) * LatenessHistogram.BIN_MS;
    }
    return this.maxMs;
  }
}
