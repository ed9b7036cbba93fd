// Per-owner backoff of the usage recorder: an owner whose account calls or usage records fail waits on its own
// schedule (growing waits, reset by its next success) while every other owner's usage keeps being recorded.
import { Backoff, BackoffOptions } from '@sovren/resilience';

const MIN_WAIT_MS = 50;

interface OwnerWait {
  backoff: Backoff;
  retryAt: number;
  lastError: string;
}

export class OwnerBackoff {
  private readonly waiting = new Map<string, OwnerWait>();

  constructor(
    private readonly options: BackoffOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Owners that must not be tried yet. */
  blocked(): string[] {
    const now = this.now();
    return [...this.waiting].filter(([, wait]) => wait.retryAt > now).map(([owner]) => owner);
  }

  /** Counts one more failure of `owner`; returns how long it now waits (ms) and its failures in a row. */
  failed(owner: string, error: string): { waitMs: number; failures: number } {
    const wait = this.waiting.get(owner) ?? { backoff: new Backoff(this.options), retryAt: 0, lastError: error };
    this.waiting.set(owner, wait);
    // Full jitter may draw (almost) 0: never retry an owner sooner than MIN_WAIT_MS.
    const waitMs = Math.max(MIN_WAIT_MS, wait.backoff.next());
    wait.retryAt = this.now() + waitMs;
    wait.lastError = error;
    return { waitMs, failures: wait.backoff.retries };
  }

  /** The owner's usage went through: its schedule starts over. True when it had been waiting. */
  succeeded(owner: string): boolean {
    return this.waiting.delete(owner);
  }

  /** Owners with failures not yet followed by a success. */
  get size(): number {
    return this.waiting.size;
  }

  /** Milliseconds until the next waiting owner may be tried (undefined when none waits). */
  nextRetryInMs(): number | undefined {
    let next: number | undefined;
    for (const wait of this.waiting.values()) next = next === undefined ? wait.retryAt : Math.min(next, wait.retryAt);
    return next === undefined ? undefined : Math.max(0, next - this.now());
  }
}
