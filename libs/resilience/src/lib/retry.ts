// The one retry loop: run an operation until it succeeds, a failure is not worth retrying, the attempts are spent
// or the caller aborts, waiting an exponential backoff (see backoff.ts) between attempts.
import { setTimeout as delay } from 'node:timers/promises';

import { Backoff, BackoffOptions } from './backoff';

export interface RetryOptions extends BackoffOptions {
  /** Attempts at most, the first included (default: no limit). */
  maxAttempts?: number;
  /** Whether a failure may be retried (default: every failure); one it refuses is thrown at once. */
  retryable?: (error: unknown, attempt: number) => boolean;
  /** Called after a failed attempt that will be retried, before the wait. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /**
   * Stops retrying: a wait ends at once and no further attempt starts; `retry` then rejects with the signal's
   * reason. An attempt in flight is not interrupted (it may watch the signal itself) and is waited for.
   */
  signal?: AbortSignal;
  /** Do not keep the process alive just to wait for the next attempt (a background reconnect). Default false. */
  unref?: boolean;
  /** Waits `ms` (default: a timer, cancelled by `signal`); injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Runs `operation(attempt)` (attempt 1, 2, ...) until it resolves, and resolves with its value. */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const maxAttempts = options.maxAttempts ?? Infinity;
  if (!(maxAttempts >= 1)) throw new RangeError('retry: maxAttempts must be >= 1');
  const backoff = new Backoff(options);
  const sleep = options.sleep ?? ((ms: number, signal?: AbortSignal) => wait(ms, signal, options.unref ?? false));
  for (let attempt = 1; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      options.signal?.throwIfAborted();
      if (attempt >= maxAttempts || (options.retryable && !options.retryable(error, attempt))) throw error;
      const delayMs = backoff.next();
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

/** Waits `ms`; rejects with the signal's reason when it is aborted first. */
export async function wait(ms: number, signal?: AbortSignal, unref = false): Promise<void> {
  try {
    await delay(ms, undefined, { signal, ref: !unref });
  } catch (error) {
    // timers/promises rejects with its own AbortError; callers expect the reason they aborted with.
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
