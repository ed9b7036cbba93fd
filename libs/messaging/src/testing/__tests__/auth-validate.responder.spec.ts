// The auth.validate stand-in answers in the contract: the declared credentials with their identity, scopes and
// tier, a refusal for any other credential, anonymous without one, and the rate-limit decision the test sets.
import { NatsTestServer } from '@sovren/testing';

import { NatsClient } from '../../client/nats.client';
import {
  parseAuthValidateReplyV1,
  type AuthValidateReplyV1,
  type AuthValidateRequestV1,
} from '../../contracts/auth-validate.contract';
import { AUTH_VALIDATE } from '../../subjects';
import { AuthValidateResponder } from '../auth-validate.responder';

describe('AuthValidateResponder', () => {
  let nats: NatsTestServer;
  let responder: AuthValidateResponder;
  let caller: NatsClient;

  beforeAll(async () => {
    nats = await NatsTestServer.start();
    responder = await AuthValidateResponder.start(nats.url);
    caller = new NatsClient({ servers: nats.url, name: 'auth-validate-caller' });
    await caller.connect();
  });

  afterAll(async () => {
    await caller?.drain();
    await responder?.close();
    await nats?.dispose();
  });

  const validate = (credential?: string): Promise<AuthValidateReplyV1> =>
    caller.request<AuthValidateRequestV1, AuthValidateReplyV1>(
      AUTH_VALIDATE,
      { v: 1, clientIp: '10.0.0.1', routeClass: 'test', ...(credential ? { credential } : {}) },
      { parse: parseAuthValidateReplyV1 },
    );

  it('answers a declared API key with its owner, scopes and tier, in credentials shaped as auth issues them', async () => {
    const key = responder.apiKey({ scopes: ['inference:generate'], tier: 'premium' });
    expect(key.credential).toMatch(/^sov_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    const reply = await validate(key.credential);
    expect(reply).toMatchObject({
      result: 'ok',
      identity: { kind: 'api_key', userId: key.userId, apiKeyId: key.id, role: 'user' },
      scopes: ['inference:generate'],
      tier: 'premium',
      rateLimit: { allowed: true },
    });
  });

  it('answers a declared session with its user and role', async () => {
    const admin = responder.session({ role: 'admin', scopes: ['billing:admin'] });
    expect(admin.credential).toMatch(/^sat_[A-Za-z0-9_-]{43}$/);
    const reply = await validate(admin.credential);
    expect(reply).toMatchObject({
      result: 'ok',
      identity: { kind: 'session', userId: admin.userId, sessionId: admin.id, role: 'admin' },
      scopes: ['billing:admin'],
      tier: 'authenticated',
    });
  });

  it('refuses a credential it was never given, and answers anonymous without one', async () => {
    const refused = await validate('sov_unknown0_' + 'x'.repeat(43));
    expect(refused).toMatchObject({
      result: 'invalid',
      reason: 'unknown',
      identity: { kind: 'anonymous' },
      scopes: [],
    });
    const anonymous = await validate();
    expect(anonymous).toMatchObject({ result: 'ok', identity: { kind: 'anonymous' }, tier: 'anonymous', scopes: [] });
    expect(responder.requests.at(-1)).toEqual({ v: 1, clientIp: '10.0.0.1', routeClass: 'test' });
  });

  it('answers the rate-limit decision the test sets', async () => {
    const key = responder.apiKey();
    responder.decideRateLimit((_request, credential) =>
      credential?.id === key.id
        ? { allowed: false, limit: 10, remaining: 0, reset: 1_900_000_000, retryAfter: 42 }
        : { allowed: true, limit: 10, remaining: 9, reset: 1_900_000_000 },
    );
    expect((await validate(key.credential)).rateLimit).toEqual({
      allowed: false,
      limit: 10,
      remaining: 0,
      reset: 1_900_000_000,
      retryAfter: 42,
    });
    expect((await validate()).rateLimit.allowed).toBe(true);
  });
});
