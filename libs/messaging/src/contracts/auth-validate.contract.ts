// Request/reply on `auth.validate` (AUTH_VALIDATE): one call per incoming request in every service. The caller
// passes the credential it received (session access token or API key, if any), the client IP and a route
// class; auth answers who it is, what it may do, and the rate-limit decision for this request.

import { ContractFieldReader } from './contract-field.reader';

export const AUTH_TIERS = ['anonymous', 'authenticated', 'premium'] as const;
export type AuthTier = (typeof AUTH_TIERS)[number];

export const AUTH_IDENTITY_KINDS = ['anonymous', 'session', 'api_key'] as const;
export type AuthIdentityKind = (typeof AUTH_IDENTITY_KINDS)[number];

export const AUTH_ROLES = ['user', 'admin'] as const;
export type AuthRole = (typeof AUTH_ROLES)[number];

/** `ok`: identity established (or anonymous without credential); `invalid`: a credential was given and refused. */
export const AUTH_VALIDATE_RESULTS = ['ok', 'invalid'] as const;
export type AuthValidateResult = (typeof AUTH_VALIDATE_RESULTS)[number];

export interface AuthValidateRequestV1 {
  v: 1;
  /** `sat_…` session access token or `sov_…` API key; absent for an anonymous request. */
  credential?: string;
  /** The client's address (per-IP counting of anonymous requests). */
  clientIp: string;
  /** Which kind of route is asked for (`inference`, `billing`…): a label for logs and metrics. */
  routeClass: string;
  /** Requests the caller already served from its cache for this credential since its last call (counted now). */
  cachedHits?: number;
  /**
   * Requests the caller served from its cache for the same user's other credentials and reports now (counted
   * against the user's shared hourly budget only).
   */
  userCachedHits?: number;
}

export interface AuthIdentityV1 {
  kind: AuthIdentityKind;
  userId?: string;
  sessionId?: string;
  apiKeyId?: string;
  role?: AuthRole;
}

export interface RateLimitDecisionV1 {
  allowed: boolean;
  /** Requests allowed per window (one hour). */
  limit: number;
  remaining: number;
  /** Epoch seconds when the oldest counted request leaves the window. */
  reset: number;
  /** Seconds to wait before retrying (only when not allowed). */
  retryAfter?: number;
}

export interface AuthValidateReplyV1 {
  v: 1;
  result: AuthValidateResult;
  /** Why an `invalid` credential was refused (`unknown`, `expired`, `revoked`, `malformed`). */
  reason?: string;
  identity: AuthIdentityV1;
  scopes: string[];
  tier: AuthTier;
  rateLimit: RateLimitDecisionV1;
}

export function parseAuthValidateRequestV1(raw: unknown): AuthValidateRequestV1 {
  const r = new ContractFieldReader('AuthValidateRequestV1', raw);
  const request: AuthValidateRequestV1 = {
    v: r.version(1),
    clientIp: r.string('clientIp', 64),
    routeClass: r.string('routeClass', 64),
  };
  const credential = r.optionalString('credential', 512);
  if (credential !== undefined) request.credential = credential;
  const cachedHits = r.optionalNumber('cachedHits', { min: 0, integer: true });
  if (cachedHits !== undefined) request.cachedHits = cachedHits;
  const userCachedHits = r.optionalNumber('userCachedHits', { min: 0, integer: true });
  if (userCachedHits !== undefined) request.userCachedHits = userCachedHits;
  return request;
}

export function parseAuthValidateReplyV1(raw: unknown): AuthValidateReplyV1 {
  const r = new ContractFieldReader('AuthValidateReplyV1', raw);
  const identityObject = r.object('identity');
  const identityRaw = new ContractFieldReader('AuthValidateReplyV1.identity', identityObject);
  const identity: AuthIdentityV1 = { kind: identityRaw.oneOf('kind', AUTH_IDENTITY_KINDS) };
  const userId = identityRaw.optionalString('userId', 128);
  if (userId !== undefined) identity.userId = userId;
  const sessionId = identityRaw.optionalString('sessionId', 128);
  if (sessionId !== undefined) identity.sessionId = sessionId;
  const apiKeyId = identityRaw.optionalString('apiKeyId', 128);
  if (apiKeyId !== undefined) identity.apiKeyId = apiKeyId;
  if (identityObject['role'] !== undefined) {
    identity.role = identityRaw.oneOf('role', AUTH_ROLES);
  }
  const limitObject = r.object('rateLimit');
  const limitRaw = new ContractFieldReader('AuthValidateReplyV1.rateLimit', limitObject);
  const allowedValue = limitObject['allowed'];
  const allowed = typeof allowedValue === 'boolean' ? allowedValue : r.fail('rateLimit.allowed', 'must be a boolean');
  const rateLimit: RateLimitDecisionV1 = {
    allowed,
    limit: limitRaw.number('limit', { min: 0, integer: true }),
    remaining: limitRaw.number('remaining', { min: 0, integer: true }),
    reset: limitRaw.number('reset', { min: 0, integer: true }),
  };
  const retryAfter = limitRaw.optionalNumber('retryAfter', { min: 0, integer: true });
  if (retryAfter !== undefined) rateLimit.retryAfter = retryAfter;
  const scopesValue = r.present('scopes');
  const scopes =
    Array.isArray(scopesValue) && scopesValue.every((scope) => typeof scope === 'string')
      ? (scopesValue as string[])
      : r.fail('scopes', 'must be an array of strings');
  const reply: AuthValidateReplyV1 = {
    v: r.version(1),
    result: r.oneOf('result', AUTH_VALIDATE_RESULTS),
    identity,
    scopes,
    tier: r.oneOf('tier', AUTH_TIERS),
    rateLimit,
  };
  const reason = r.optionalString('reason', 64);
  if (reason !== undefined) reply.reason = reason;
  return reply;
}
