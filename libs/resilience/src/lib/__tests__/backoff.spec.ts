import { Backoff, backoffDelay } from '../backoff';

describe('backoffDelay', () => {
  it('doubles the ceiling from initialMs on each retry and caps it at maxMs', () => {
    const none = { initialMs: 100, maxMs: 1_000, jitter: 'none' as const };
    expect([1, 2, 3, 4, 5, 6].map((retry) => backoffDelay(retry, none))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('draws full jitter: uniform from 0 up to the whole ceiling, not from half of it', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    expect(backoffDelay(3, { ...options, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { ...options, random: () => 0.25 })).toBe(100);
    expect(backoffDelay(3, { ...options, random: () => 0.999999 })).toBe(400);
  });

  it('stays finite far past the cap', () => {
    expect(backoffDelay(10_000, { initialMs: 1, maxMs: 30_000, jitter: 'none' })).toBe(30_000);
  });

  it('refuses a retry number below 1 and a cap below the first delay', () => {
    expect(() => backoffDelay(0, { initialMs: 1, maxMs: 2 })).toThrow(RangeError);
    expect(() => backoffDelay(1, { initialMs: 10, maxMs: 2 })).toThrow(RangeError);
  });
});

describe('Backoff', () => {
  it('counts failures and starts over after reset()', () => {
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000, jitter: 'none' });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([250, 500, 1_000]);
    expect(backoff.retries).toBe(3);
    backoff.reset();
    expect(backoff.retries).toBe(0);
    expect(backoff.next()).toBe(250);
  });
});
