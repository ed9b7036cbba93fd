// auth.validate's core: credential → identity, scopes and tier, then the rate-limit decision, all against the
// local SQLite store (no provider is ever consulted). A refused credential is answered `invalid` and the
// request is still counted against the caller's IP, so guessing credentials is rate limited too.
import { Injectable } from '@nestjs/common';
import { ROLE_SCOPES, scopesAllowedFor } from '@sovren/auth-guard';
import type { AuthValidateReplyV1, AuthValidateRequestV1, RateLimitDecisionV1 } from '@sovren/messaging';
import type { Counter, Histogram } from 'prom-client';

import { ApiKeyService } from '../api-keys/api-key.service';
import { AuthConfig } from '../auth-config/auth-config';
import { AuthMetrics } from '../auth.metrics';
import { SlidingWindowRateLimiter } from '../rate-limit/sliding-window.rate-limiter';
import { SessionService } from '../sessions/session.service';
import { credentialKind, hashToken } from '../tokens/opaque-token';
import { UsersRepository } from '../users/users.repository';
import { CredentialLookupCache, ValidCredential } from './credential-lookup.cache';

type ValidationOutcome = 'ok_anonymous' | 'ok_session' | 'ok_api_key' | 'invalid' | 'rate_limited';

@Injectable()
export class AuthValidationService {
  private readonly validations: Counter<'result'>;
  private readonly latency: Histogram<'kind'>;
  private readonly rejections: Counter<'tier'>;

  constructor(
    private readonly sessions: SessionService,
    private readonly apiKeys: ApiKeyService,
    private readonly users: UsersRepository,
    private readonly limiter: SlidingWindowRateLimiter,
    private readonly config: AuthConfig,
    private readonly credentials: CredentialLookupCache,
    metrics: AuthMetrics,
  ) {
    this.validations = metrics.validations;
    this.latency = metrics.validationLatency;
    this.rejections = metrics.rateLimitRejections;
  }

  validate(request: AuthValidateRequestV1, now = Date.now()): AuthValidateReplyV1 {
    const stop = this.latency.startTimer();
    const reply = this.decide(request, now);
    const outcome: ValidationOutcome = !reply.rateLimit.allowed
      ? 'rate_limited'
      : reply.result === 'invalid'
        ? 'invalid'
        : `ok_${reply.identity.kind}`;
    this.validations.inc({ result: outcome });
    if (!reply.rateLimit.allowed) this.rejections.inc({ tier: reply.tier });
    stop({ kind: reply.identity.kind });
    return reply;
  }

  private decide(request: AuthValidateRequestV1, now: number): AuthValidateReplyV1 {
    const cachedHits = request.cachedHits ?? 0;
    const credential = request.credential;
    if (credential === undefined) return this.anonymous(request.clientIp, now, cachedHits);
    const kind = credentialKind(credential);
    // A refresh token only buys new tokens at /api/v1/auth/refresh; it never authorises a request.
    if (kind === 'refresh') return this.invalid(request.clientIp, 'refresh_token_not_accepted', now);
    if (kind === 'malformed') return this.invalid(request.clientIp, 'malformed', now);
    const hash = hashToken(credential);
    let valid = this.credentials.get(hash, now);
    if (!valid) {
      const looked = kind === 'access' ? this.lookUpSession(credential, now) : this.lookUpApiKey(credential, now);
      if (typeof looked === 'string') return this.invalid(request.clientIp, looked, now);
      valid = looked;
      this.credentials.put(hash, valid, now);
    }
    // Every credential of a user draws on the user's one hourly budget (up to the ceiling of this credential's
    // tier); a key with a limit of its own is held to that too.
    const windows = [
      {
        subject: valid.subject,
        limit: this.config.ratePerHour[valid.tier],
        alreadyServed: cachedHits + (request.userCachedHits ?? 0),
      },
    ];
    if (valid.ownLimit !== undefined) {
      windows.push({ subject: `key:${valid.identity.apiKeyId}`, limit: valid.ownLimit, alreadyServed: cachedHits });
    }
    const rateLimit: RateLimitDecisionV1 = this.limiter.hitAll(windows, now);
    return { v: 1, result: 'ok', identity: valid.identity, scopes: valid.scopes, tier: valid.tier, rateLimit };
  }

  /** The valid credential, or why it is refused. */
  private lookUpSession(token: string, now: number): ValidCredential | string {
    const check = this.sessions.checkAccessToken(token, now);
    if (!check.ok || !check.userId || !check.sessionId) return check.reason ?? 'unknown';
    const role = this.users.roleOf(check.userId);
    if (!role) return 'unknown';
    return {
      identity: { kind: 'session', userId: check.userId, sessionId: check.sessionId, role },
      // A session may do what its user's role may do; nothing is a wildcard.
      scopes: [...ROLE_SCOPES[role]],
      tier: 'authenticated',
      subject: `user:${check.userId}`,
      expiresAt: check.expiresAt ?? null,
    };
  }

  private lookUpApiKey(key: string, now: number): ValidCredential | string {
    const check = this.apiKeys.check(key, now);
    if (!check.ok || !check.userId || !check.keyId || !check.tier) return check.reason ?? 'unknown';
    const role = this.users.roleOf(check.userId);
    if (!role) return 'unknown';
    return {
      identity: { kind: 'api_key', userId: check.userId, apiKeyId: check.keyId, role },
      // The key's own scopes, less any its owner's role no longer allows (an admin demoted to user).
      scopes: scopesAllowedFor(role, check.scopes ?? []),
      tier: check.tier,
      subject: `user:${check.userId}`,
      ownLimit: check.ratePerHour ?? undefined,
      expiresAt: check.expiresAt ?? null,
    };
  }

  private anonymous(ip: string, now: number, cachedHits: number): AuthValidateReplyV1 {
    return {
      v: 1,
      result: 'ok',
      identity: { kind: 'anonymous' },
      scopes: [],
      tier: 'anonymous',
      rateLimit: this.limiter.hit(`ip:${ip}`, this.config.ratePerHour.anonymous, now, cachedHits),
    };
  }

  private invalid(ip: string, reason: string, now: number): AuthValidateReplyV1 {
    return { ...this.anonymous(ip, now, 0), result: 'invalid', reason };
  }
}
