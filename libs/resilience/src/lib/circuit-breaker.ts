// A small circuit breaker for a remote service: after `failureThreshold` consecutive failures it opens (calls fail
// fast), after `openMs` one trial call is let through (half-open); its success closes the circuit.
export type CircuitState = 'closed' | 'half_open' | 'open';

export interface CircuitBreakerOptions {
  failureThreshold: number;
  openMs: number;
  onStateChange?: (state: CircuitState) => void;
  now?: () => number;
}

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new Error('CircuitBreaker: failureThreshold must be an integer >= 1');
    }
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    return this.current;
  }

  /** Whether a call may go out now; in half-open state only one trial call at a time. */
  tryAcquire(): boolean {
    if (this.current === 'open') {
      if (this.now() - this.openedAt < this.options.openMs) return false;
      this.transition('half_open');
    }
    if (this.current === 'half_open') {
      if (this.trialInFlight) return false;
      this.trialInFlight = true;
    }
    return true;
  }

  /** Milliseconds until an open circuit lets a trial call through (0 when not open). */
  retryInMs(): number {
    return this.current === 'open' ? Math.max(0, this.options.openMs - (this.now() - this.openedAt)) : 0;
  }

  onSuccess(): void {
    this.trialInFlight = false;
    this.failures = 0;
    if (this.current !== 'closed') this.transition('closed');
  }

  onFailure(): void {
    this.trialInFlight = false;
    this.failures += 1;
    if (this.current === 'half_open' || this.failures >= this.options.failureThreshold) {
      this.openedAt = this.now();
      if (this.current !== 'open') this.transition('open');
    }
  }

  /** A call that was admitted but whose outcome says nothing about the remote's health (e.g. an HTTP 4xx). */
  onNeutral(): void {
    this.trialInFlight = false;
    this.failures = 0;
    if (this.current === 'half_open') this.transition('closed');
  }

  private transition(state: CircuitState): void {
    this.current = state;
    this.options.onStateChange?.(state);
  }
}
