// Specification of the auth.validate and auth.revoked contract validators (libs/messaging), as auth and the
// guard rely on them.
import {
  ContractError,
  parseAuthRevokedV1,
  parseAuthValidateReplyV1,
  parseAuthValidateRequestV1,
} from '@sovren/messaging';

describe('auth contracts', () => {
  const reply = {
    v: 1,
    result: 'ok',
    identity: { kind: 'api_key', userId: 'u', apiKeyId: 'k', role: 'user' },
    scopes: ['a:b'],
    tier: 'premium',
    rateLimit: { allowed: true, limit: 10000, remaining: 9999, reset: 1_900_000_000 },
  };

  it('accepts a well-formed request and reply', () => {
    expect(
      parseAuthValidateRequestV1({ v: 1, credential: 'sov_x', clientIp: '::1', routeClass: 'x', cachedHits: 3 }),
    ).toEqual({
      v: 1,
      credential: 'sov_x',
      clientIp: '::1',
      routeClass: 'x',
      cachedHits: 3,
    });
    expect(parseAuthValidateReplyV1(reply)).toEqual(reply);
  });

  it('names the offending field of a bad request', () => {
    expect(() => parseAuthValidateRequestV1({ v: 1, clientIp: '1.2.3.4' })).toThrow(/routeClass/);
    expect(() => parseAuthValidateRequestV1({ v: 1, clientIp: '1.2.3.4', routeClass: 'x', cachedHits: -1 })).toThrow(
      ContractError,
    );
    expect(() => parseAuthValidateRequestV1({ v: 2, clientIp: '1.2.3.4', routeClass: 'x' })).toThrow(/"v"/);
  });

  it('refuses a reply with a bad tier, identity kind, scopes or rate-limit decision', () => {
    expect(() => parseAuthValidateReplyV1({ ...reply, tier: 'gold' })).toThrow(/tier/);
    expect(() => parseAuthValidateReplyV1({ ...reply, identity: { kind: 'robot' } })).toThrow(/kind/);
    expect(() => parseAuthValidateReplyV1({ ...reply, scopes: [1] })).toThrow(/scopes/);
    expect(() => parseAuthValidateReplyV1({ ...reply, rateLimit: { ...reply.rateLimit, allowed: 'yes' } })).toThrow(
      /allowed/,
    );
  });

  it('checks revocation events', () => {
    const event = { v: 1, kind: 'api_key', id: 'k', userId: 'u', revokedAt: '2030-01-01T00:00:00.000Z' };
    expect(parseAuthRevokedV1(event)).toEqual(event);
    expect(() => parseAuthRevokedV1({ ...event, kind: 'everything' })).toThrow(/kind/);
  });
});
