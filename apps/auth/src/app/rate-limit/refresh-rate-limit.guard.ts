// Rate limit of POST /api/v1/auth/refresh. A refresh token that belongs to a live session counts against its
// user's hourly budget, never the anonymous per-IP bucket: behind a proxy (or on a shared address) junk requests
// that fill that bucket must not stop real users from refreshing, which would log them all out. A request without
// a usable token counts against the client's address like any anonymous or refused credential.
import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { readCookie, REFRESH_COOKIE, requestClientIp } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type { RateLimitDecisionV1 } from '@sovren/messaging';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { AuthConfig } from '../auth-config/auth-config';
import { AuthDatabases } from '../storage/auth-databases';
import { credentialKind, hashToken } from '../tokens/opaque-token';
import { SlidingWindowRateLimiter } from './sliding-window.rate-limiter';

@Injectable()
export class RefreshRateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: SlidingWindowRateLimiter,
    private readonly databases: AuthDatabases,
    private readonly config: AuthConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<IncomingMessage & { ip?: string; body?: unknown }>();
    const res = http.getResponse<ServerResponse>();
    const body = req.body as { refresh_token?: unknown } | undefined;
    const token = typeof body?.refresh_token === 'string' ? body.refresh_token : readCookie(req, REFRESH_COOKIE);
    const userId = token === undefined ? undefined : this.ownerOf(token);
    const decision =
      userId !== undefined
        ? this.limiter.hit(`user:${userId}`, this.config.ratePerHour.authenticated)
        : this.limiter.hit(`ip:${requestClientIp(req)}`, this.config.ratePerHour.anonymous);
    this.answer(res, decision, userId !== undefined ? 'authenticated' : 'anonymous');
    return true;
  }

  /** The user of the session a refresh token belongs to, while that session is live; else undefined. */
  private ownerOf(token: string, now = Date.now()): string | undefined {
    if (credentialKind(token) !== 'refresh') return undefined;
    const db = this.databases.handle('api_auth');
    const row = this.databases
      .statement(
        db,
        `SELECT s.user_id FROM session_tokens t JOIN sessions s ON s.id = t.session_id
          WHERE t.token_hash = ? AND t.kind = 'refresh' AND s.revoked_at IS NULL AND s.expires_at > ?`,
      )
      .get(hashToken(token), now) as { user_id: string } | undefined;
    return row?.user_id;
  }

  private answer(res: ServerResponse, limit: RateLimitDecisionV1, tier: string): void {
    res.setHeader('X-RateLimit-Limit', String(limit.limit));
    res.setHeader('X-RateLimit-Remaining', String(limit.remaining));
    res.setHeader('X-RateLimit-Reset', String(limit.reset));
    if (limit.allowed) return;
    const retryAfter = limit.retryAfter ?? 1;
    res.setHeader('Retry-After', String(retryAfter));
    throw new ApiError(
      HttpStatus.TOO_MANY_REQUESTS,
      ApiErrorCode.RATE_LIMITED,
      `rate limit of ${limit.limit} requests per hour reached for the ${tier} tier; retry in ${retryAfter} s`,
      { tier, limit: limit.limit, reset: limit.reset, retry_after: retryAfter },
    );
  }
}
