// Exponential backoff: the n-th retry waits up to `initialMs * 2^(n-1)`, capped at `maxMs`. With full jitter the
// wait is uniform in [0, that ceiling] ("Exponential Backoff and Jitter", AWS Architecture Blog, 2015), so clients
// that failed together do not retry together; without jitter it is the ceiling itself.

export interface BackoffOptions {
  /** Ceiling of the first retry's delay (ms). */
  initialMs: number;
  /** Largest delay (ms). */
  maxMs: number;
  /** `full` (default): uniform in [0, ceiling]; `none`: the ceiling (a fixed schedule, e.g. for a local resource). */
  jitter?: 'full' | 'none';
  /** A uniform random number in [0, 1) (default Math.random); injectable for tests. */
  random?: () => number;
}

/** The delay before retry number `retry` (1 = the first retry). */
export function backoffDelay(retry: number, options: BackoffOptions): number {
  if (!Number.isInteger(retry) || retry < 1) throw new RangeError(`backoffDelay: retry must be an integer >= 1`);
  if (!(options.initialMs >= 0) || !(options.maxMs >= options.initialMs)) {
    throw new RangeError('backoffDelay: need 0 <= initialMs <= maxMs');
  }
  // 2^52 is past any sensible cap already; the bound keeps the product finite.
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(retry - 1, 52));
  if (options.jitter === 'none') return ceiling;
  return Math.round((options.random ?? Math.random)() * ceiling);
}

/** The backoff of one sequence of failures: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private count = 0;

  constructor(private readonly options: BackoffOptions) {
    backoffDelay(1, options); // validates the options now rather than at the first failure
  }

  /** Failures since the last reset. */
  get retries(): number {
    return this.count;
  }

  /** The delay before the next retry; each call is one more failure. */
  next(): number {
    this.count += 1;
    return backoffDelay(this.count, this.options);
  }

  reset(): void {
    this.count = 0;
  }
}
