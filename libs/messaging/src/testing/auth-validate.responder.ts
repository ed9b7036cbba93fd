// A stand-in for the auth service's side of `auth.validate`, for the tests and benchmarks of the apps that call
// it: it answers AUTH_VALIDATE over NATS with the contract (request parsed by parseAuthValidateRequestV1, reply an
// AuthValidateReplyV1) for the credentials a test declares — who they are, which scopes and tier they carry —
// and a rate-limit decision the test can change. Other apps' tests need not boot auth to be guarded for real.
import { randomBytes, randomUUID } from 'node:crypto';

import { NatsClient } from '../client/nats.client';
import {
  parseAuthValidateRequestV1,
  type AuthIdentityV1,
  type AuthRole,
  type AuthTier,
  type AuthValidateReplyV1,
  type AuthValidateRequestV1,
  type RateLimitDecisionV1,
} from '../contracts/auth-validate.contract';
import { AUTH_VALIDATE } from '../subjects';

export interface TestCredentialOptions {
  /** Default: a new UUID (a new user). */
  userId?: string;
  /** Default `user`. */
  role?: AuthRole;
  /** The scopes auth would answer for this credential (for a session, those of its user's role). Default none. */
  scopes?: readonly string[];
  /** Default `authenticated`. */
  tier?: Exclude<AuthTier, 'anonymous'>;
}

/** A credential the responder knows, and what it answers for it. */
export interface TestCredential {
  /** What a client sends: `sov_…` for an API key, `sat_…` for a session access token, as auth issues them. */
  credential: string;
  kind: 'api_key' | 'session';
  /** The API key's id or the session's id. */
  id: string;
  userId: string;
  role: AuthRole;
  scopes: string[];
  tier: Exclude<AuthTier, 'anonymous'>;
}

/** Decides the rate limit of one request; `credential` is undefined for an anonymous or refused one. */
export type RateLimitPolicy = (
  request: AuthValidateRequestV1,
  credential: TestCredential | undefined,
) => RateLimitDecisionV1;

/** Every request allowed, with a large hourly limit counted down per caller. */
export function generousRateLimit(limit = 1_000_000): RateLimitPolicy {
  const counts = new Map<string, number>();
  return (request, credential) => {
    const subject = credential ? `${credential.kind}:${credential.id}` : `ip:${request.clientIp}`;
    const count = (counts.get(subject) ?? 0) + 1 + (request.cachedHits ?? 0);
    counts.set(subject, count);
    return {
      allowed: true,
      limit,
      remaining: Math.max(0, limit - count),
      reset: Math.ceil(Date.now() / 1000) + 3600,
    };
  };
}

export interface AuthValidateResponderOptions {
  /** Default generousRateLimit(). */
  rateLimit?: RateLimitPolicy;
}

export class AuthValidateResponder {
  /** Every request answered, in order. */
  readonly requests: AuthValidateRequestV1[] = [];
  private readonly credentials = new Map<string, TestCredential>();
  private rateLimit: RateLimitPolicy;

  private constructor(
    private readonly client: NatsClient,
    options: AuthValidateResponderOptions,
  ) {
    this.rateLimit = options.rateLimit ?? generousRateLimit();
  }

  /** Connects to `natsUrl` and answers auth.validate (queue group `auth`, as auth does) until close(). */
  static async start(natsUrl: string, options: AuthValidateResponderOptions = {}): Promise<AuthValidateResponder> {
    const client = new NatsClient({ servers: natsUrl, name: 'auth-validate-responder' });
    await client.connect();
    const responder = new AuthValidateResponder(client, options);
    client.respond<AuthValidateRequestV1, AuthValidateReplyV1>(AUTH_VALIDATE, (request) => responder.answer(request), {
      queue: 'auth',
      parse: parseAuthValidateRequestV1,
    });
    // The server has the subscription before any app relies on it.
    await client.rawConnection()?.flush();
    return responder;
  }

  /** A new API key (`sov_<id>_<secret>`), valid until close(). */
  apiKey(options: TestCredentialOptions = {}): TestCredential {
    const id = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
    return this.add('api_key', `sov_${id}_${randomBytes(32).toString('base64url')}`, randomUUID(), options);
  }

  /** A new session access token (`sat_<secret>`), valid until close(). */
  session(options: TestCredentialOptions = {}): TestCredential {
    return this.add('session', `sat_${randomBytes(32).toString('base64url')}`, randomUUID(), options);
  }

  /** Changes the rate-limit decision of the requests from now on. */
  decideRateLimit(policy: RateLimitPolicy): void {
    this.rateLimit = policy;
  }

  close(): Promise<void> {
    return this.client.drain();
  }

  private add(
    kind: TestCredential['kind'],
    credential: string,
    id: string,
    options: TestCredentialOptions,
  ): TestCredential {
    const known: TestCredential = {
      credential,
      kind,
      id,
      userId: options.userId ?? randomUUID(),
      role: options.role ?? 'user',
      scopes: [...(options.scopes ?? [])],
      tier: options.tier ?? 'authenticated',
    };
    this.credentials.set(credential, known);
    return known;
  }

  private answer(request: AuthValidateRequestV1): AuthValidateReplyV1 {
    this.requests.push(request);
    if (request.credential === undefined) return this.anonymous(request, 'ok');
    const known = this.credentials.get(request.credential);
    if (!known) return { ...this.anonymous(request, 'invalid'), reason: 'unknown' };
    const identity: AuthIdentityV1 =
      known.kind === 'api_key'
        ? { kind: 'api_key', userId: known.userId, apiKeyId: known.id, role: known.role }
        : { kind: 'session', userId: known.userId, sessionId: known.id, role: known.role };
    return {
      v: 1,
      result: 'ok',
      identity,
      scopes: [...known.scopes],
      tier: known.tier,
      rateLimit: this.rateLimit(request, known),
    };
  }

  private anonymous(request: AuthValidateRequestV1, result: AuthValidateReplyV1['result']): AuthValidateReplyV1 {
    return {
      v: 1,
      result,
      identity: { kind: 'anonymous' },
      scopes: [],
      tier: 'anonymous',
      rateLimit: this.rateLimit(request, undefined),
    };
  }
}
