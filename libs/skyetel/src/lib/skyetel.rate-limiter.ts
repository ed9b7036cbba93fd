// A sliding-window limiter: at most `limit` requests start in any `windowMs`, so our own traffic never earns the
// 429 Skyetel answers past 120 requests a minute. Callers wait in FIFO order; nothing is dropped.

export interface SkyetelRateLimiterOptions {
  /** Requests allowed per window (Skyetel's limit is 120/min; keep a margin). */
  limit: number;
  windowMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class SkyetelRateLimiter {
  private readonly started: number[] = [];
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: SkyetelRateLimiterOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new Error('SkyetelRateLimiter: limit must be a positive integer');
    }
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Resolves when one more request may start (and counts it as started). */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot());
    // The chain must survive a rejected wait (it cannot reject today, but a broken sleep must not wedge the queue).
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Requests started within the current window (for metrics and tests). */
  get inWindow(): number {
    this.expire();
    return this.started.length;
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      this.expire();
      if (this.started.length < this.options.limit) {
        this.started.push(this.now());
        return;
      }
      const oldest = this.started[0] ?? this.now();
      await this.sleep(Math.max(1, oldest + this.windowMs - this.now()));
    }
  }

  private expire(): void {
    const horizon = this.now() - this.windowMs;
    while (this.started.length > 0 && (this.started[0] ?? 0) <= horizon) this.started.shift();
  }
}
