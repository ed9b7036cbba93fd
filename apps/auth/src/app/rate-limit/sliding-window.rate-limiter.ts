// Per-identity request counting over a sliding one-hour window, persisted in api_auth.db so that a restart of
// auth forgets nothing. The window is kept as one-minute buckets: a request is counted in its minute's bucket,
// and the buckets that started within the last hour make up the window.
//
// auth.validate runs on every request of every service, so decisions are made in memory (a subject's buckets
// are loaded from SQLite the first time it is seen) and the increments are written behind, batched in one
// transaction every FLUSH_EVERY_MS and at shutdown. A graceful restart loses nothing; a crash loses at most the
// last FLUSH_EVERY_MS of counts. The counters belong to one auth process: run one auth instance per data root.
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { RateLimitDecisionV1 } from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';

import { AuthDatabases } from '../storage/auth-databases';

export const RATE_WINDOW_MS = 3_600_000;
export const RATE_BUCKET_MS = 60_000;
export const FLUSH_EVERY_MS = 200;
/** Subjects and old buckets are swept at most this often. */
const SWEEP_EVERY_MS = 5 * 60_000;

interface BucketRow {
  bucket_start: number;
  count: number;
}

@Injectable()
export class SlidingWindowRateLimiter implements OnApplicationShutdown {
  private readonly logger = new Logger(SlidingWindowRateLimiter.name);
  /** subject → bucket start → count (only buckets inside some recent window). */
  private readonly windows = new Map<string, Map<number, number>>();
  /** subject → bucket start → increments not yet written. */
  private pending = new Map<string, Map<number, number>>();
  private flushTimer: NodeJS.Timeout | undefined;
  private lastSweep = Date.now();

  constructor(private readonly databases: AuthDatabases) {}

  /**
   * Counts one request of `subject` (e.g. `ip:10.0.0.1`, `user:<id>`, `key:<id>`) against `limit` per hour,
   * after adding `alreadyServed` requests a caller served from its cache. A refused request is not counted.
   */
  hit(subject: string, limit: number, now = Date.now(), alreadyServed = 0): RateLimitDecisionV1 {
    const buckets = this.windowOf(subject, now);
    const bucket = now - (now % RATE_BUCKET_MS);
    const windowStart = now - RATE_WINDOW_MS;
    if (alreadyServed > 0) this.add(subject, buckets, bucket, alreadyServed);
    let used = 0;
    let oldest = bucket;
    for (const [start, count] of buckets) {
      if (start <= windowStart) continue;
      used += count;
      if (start < oldest) oldest = start;
    }
    const reset = Math.ceil((oldest + RATE_WINDOW_MS) / 1000);
    let decision: RateLimitDecisionV1;
    if (used >= limit) {
      decision = {
        allowed: false,
        limit,
        remaining: 0,
        reset,
        retryAfter: Math.max(1, Math.ceil((oldest + RATE_WINDOW_MS - now) / 1000)),
      };
    } else {
      this.add(subject, buckets, bucket, 1);
      decision = { allowed: true, limit, remaining: Math.max(0, limit - used - 1), reset };
    }
    if (now - this.lastSweep > SWEEP_EVERY_MS) this.sweep(now);
    return decision;
  }

  /**
   * Counts one request against several windows at once (a user's shared budget and a key's own limit): allowed
   * only if every one of them allows it, and then counted in all of them; a refused request is counted in none.
   * The answer is the tightest window's. Each window's `alreadyServed` requests (served from a caller's cache) are
   * added to it first.
   */
  hitAll(
    windows: ReadonlyArray<{ subject: string; limit: number; alreadyServed?: number }>,
    now = Date.now(),
  ): RateLimitDecisionV1 {
    const bucket = now - (now % RATE_BUCKET_MS);
    const windowStart = now - RATE_WINDOW_MS;
    const states = windows.map(({ subject, limit, alreadyServed = 0 }) => {
      const buckets = this.windowOf(subject, now);
      if (alreadyServed > 0) this.add(subject, buckets, bucket, alreadyServed);
      let used = 0;
      let oldest = bucket;
      for (const [start, count] of buckets) {
        if (start <= windowStart) continue;
        used += count;
        if (start < oldest) oldest = start;
      }
      return { subject, limit, buckets, used, oldest };
    });
    const full = states.filter((state) => state.used >= state.limit);
    let decision: RateLimitDecisionV1;
    if (full.length > 0) {
      // Retry when the last full window has room again.
      const latest = full.reduce((a, b) => (a.oldest >= b.oldest ? a : b));
      decision = {
        allowed: false,
        limit: Math.min(...states.map((state) => state.limit)),
        remaining: 0,
        reset: Math.ceil((latest.oldest + RATE_WINDOW_MS) / 1000),
        retryAfter: Math.max(1, Math.ceil((latest.oldest + RATE_WINDOW_MS - now) / 1000)),
      };
    } else {
      for (const state of states) this.add(state.subject, state.buckets, bucket, 1);
      const tightest = states.reduce((a, b) => (a.limit - a.used <= b.limit - b.used ? a : b));
      decision = {
        allowed: true,
        limit: tightest.limit,
        remaining: Math.max(0, tightest.limit - tightest.used - 1),
        reset: Math.ceil((tightest.oldest + RATE_WINDOW_MS) / 1000),
      };
    }
    if (now - this.lastSweep > SWEEP_EVERY_MS) this.sweep(now);
    return decision;
  }

  /** Writes the pending increments now (also runs every FLUSH_EVERY_MS and at shutdown). */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      const db = this.databases.handle('api_auth');
      const upsert = this.databases.statement(
        db,
        `INSERT INTO rate_limit_buckets (subject, bucket_start, count) VALUES (?, ?, ?)
         ON CONFLICT (subject, bucket_start) DO UPDATE SET count = count + excluded.count`,
      );
      db.transaction(() => {
        for (const [subject, buckets] of batch) for (const [start, count] of buckets) upsert.run(subject, start, count);
      }).immediate();
    } catch (error) {
      // Keep the counts and try again: losing them would hand out requests the window already used.
      for (const [subject, buckets] of batch)
        for (const [start, count] of buckets) this.addPending(subject, start, count);
      this.logger.error({
        msg: 'could not persist rate-limit counts; retrying',
        err: errorMessage(error),
      });
      this.scheduleFlush();
    }
  }

  /** Drops buckets (memory and file) that left every window. */
  sweep(now = Date.now()): void {
    this.lastSweep = now;
    const windowStart = now - RATE_WINDOW_MS;
    for (const [subject, buckets] of this.windows) {
      for (const start of buckets.keys()) if (start <= windowStart) buckets.delete(start);
      if (buckets.size === 0) this.windows.delete(subject);
    }
    const db = this.databases.handle('api_auth');
    this.databases.statement(db, 'DELETE FROM rate_limit_buckets WHERE bucket_start <= ?').run(windowStart);
  }

  onApplicationShutdown(): void {
    this.flush();
  }

  private windowOf(subject: string, now: number): Map<number, number> {
    let buckets = this.windows.get(subject);
    if (buckets) return buckets;
    const db = this.databases.handle('api_auth');
    const rows = this.databases
      .statement(db, 'SELECT bucket_start, count FROM rate_limit_buckets WHERE subject = ? AND bucket_start > ?')
      .all(subject, now - RATE_WINDOW_MS) as BucketRow[];
    buckets = new Map(rows.map((row) => [row.bucket_start, row.count]));
    this.windows.set(subject, buckets);
    return buckets;
  }

  private add(subject: string, buckets: Map<number, number>, bucket: number, count: number): void {
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
    this.addPending(subject, bucket, count);
    this.scheduleFlush();
  }

  private addPending(subject: string, bucket: number, count: number): void {
    let buckets = this.pending.get(subject);
    if (!buckets) {
      buckets = new Map();
      this.pending.set(subject, buckets);
    }
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_EVERY_MS);
    this.flushTimer.unref();
  }
}
