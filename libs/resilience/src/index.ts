// @sovren/resilience: the one retry loop and backoff, the circuit breaker, a wakeable wait for consumer loops, and
// errorMessage() for caught values.
export * from './lib/backoff';
export * from './lib/retry';
export * from './lib/circuit-breaker';
export * from './lib/error-message';
export * from './lib/wakeable-sleep';
