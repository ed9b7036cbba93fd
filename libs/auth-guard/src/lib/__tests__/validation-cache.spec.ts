// Specification of the guard's validation cache (a plain class: time is passed in).
import type { AuthValidateReplyV1 } from '@sovren/messaging';

import { ValidationCache } from '../validation-cache';

function reply(overrides: Partial<AuthValidateReplyV1> = {}): AuthValidateReplyV1 {
  return {
    v: 1,
    result: 'ok',
    identity: { kind: 'api_key', userId: 'u1', apiKeyId: 'k1', role: 'user' },
    scopes: ['a:b'],
    tier: 'authenticated',
    rateLimit: { allowed: true, limit: 10, remaining: 3, reset: 2_000_000_000 },
    ...overrides,
  };
}

describe('ValidationCache', () => {
  it('serves a positive answer until its own copy of remaining runs out, counting what it served', () => {
    const cache = new ValidationCache(5_000);
    cache.put('k', reply(), 0);
    expect(cache.take('k', 1)?.rateLimit.remaining).toBe(2);
    expect(cache.take('k', 2)?.rateLimit.remaining).toBe(1);
    expect(cache.take('k', 3)?.rateLimit.remaining).toBe(0);
    expect(cache.take('k', 4)).toBeUndefined();
    expect(cache.drainServed('k')).toBe(3);
    expect(cache.drainServed('k')).toBe(0);
  });

  it("serves a user's several credentials from one budget: two keys of one user never spend it twice", () => {
    const cache = new ValidationCache(5_000);
    const second = { kind: 'api_key' as const, userId: 'u1', apiKeyId: 'k2', role: 'user' as const };
    cache.put('k1', reply(), 0);
    cache.put('k2', reply({ identity: second, rateLimit: { allowed: true, limit: 10, remaining: 2, reset: 1 } }), 0);
    // Auth's latest answer leaves the user 2 requests; both keys together get exactly those from the cache.
    const served = [cache.take('k1', 1), cache.take('k2', 1), cache.take('k1', 1), cache.take('k2', 1)];
    expect(served.filter((answer) => answer !== undefined)).toHaveLength(2);
    // Reported with the next call of either key, the served requests free the user-level tally.
    expect(cache.drainServed('k1') + cache.drainServed('k2')).toBe(2);
    cache.put('k1', reply({ rateLimit: { allowed: true, limit: 10, remaining: 1, reset: 1 } }), 2);
    expect(cache.take('k2', 3)).toBeDefined();
    expect(cache.take('k1', 3)).toBeUndefined();
  });

  it('does not serve an expired entry', () => {
    const cache = new ValidationCache(5_000);
    cache.put('k', reply(), 0);
    expect(cache.take('k', 5_000)).toBeUndefined();
  });

  it('never caches refusals, rate-limited or anonymous answers', () => {
    const cache = new ValidationCache(5_000);
    cache.put('a', reply({ result: 'invalid' }), 0);
    cache.put('b', reply({ rateLimit: { allowed: false, limit: 10, remaining: 0, reset: 1 } }), 0);
    cache.put('c', reply({ identity: { kind: 'anonymous' }, tier: 'anonymous' }), 0);
    expect(cache.size()).toBe(0);
  });

  it('drops the entries a revocation names: a key, a session, or all sessions of a user', () => {
    const cache = new ValidationCache(5_000);
    cache.put('key', reply(), 0);
    cache.put('s1', reply({ identity: { kind: 'session', userId: 'u1', sessionId: 's1', role: 'user' } }), 0);
    cache.put('s2', reply({ identity: { kind: 'session', userId: 'u1', sessionId: 's2', role: 'user' } }), 0);
    cache.put('s3', reply({ identity: { kind: 'session', userId: 'u2', sessionId: 's3', role: 'user' } }), 0);
    const at = new Date(0).toISOString();
    expect(cache.revoke({ v: 1, kind: 'api_key', id: 'k1', userId: 'u1', revokedAt: at })).toBe(1);
    expect(cache.revoke({ v: 1, kind: 'session', id: 's3', userId: 'u2', revokedAt: at })).toBe(1);
    expect(cache.revoke({ v: 1, kind: 'user_sessions', id: 'u1', userId: 'u1', revokedAt: at })).toBe(2);
    expect(cache.size()).toBe(0);
  });

  it('keys by the SHA-256 of the credential, never the credential itself', () => {
    expect(ValidationCache.keyOf('sov_secret')).toMatch(/^[0-9a-f]{64}$/);
  });
});
