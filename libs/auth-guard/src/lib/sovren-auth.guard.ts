// SovrenAuthGuard: one auth.validate per request (or a cached positive answer), then the answer applied:
// X-RateLimit-* headers always; 401 for a refused or missing credential, 429 with Retry-After over the
// limit, 403 for a missing role or scope (INSUFFICIENT_SCOPE) and for a cross-site write riding on a session
// cookie — each as the standard error envelope (ApiError). If auth cannot be asked the guard fails closed with
// 503, except for credential-less requests on routes that opt into `anonymousWhenAuthUnavailable`.
import { CanActivate, ExecutionContext, HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError, ApiErrorCode } from '@sovren/http';
import {
  AUTH_VALIDATE,
  AuthValidateReplyV1,
  AuthValidateRequestV1,
  NatsClient,
  parseAuthValidateReplyV1,
} from '@sovren/messaging';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '@sovren/resilience';

import { AUTH_GUARD_SETTINGS, type AuthGuardSettings } from './auth-guard.env';
import {
  AUTH_GUARD_OPTIONS,
  AUTH_ROUTE_OPTIONS,
  type AuthGuardOptions,
  type AuthRouteOptions,
} from './auth-guard.options';
import { authRouteProblems } from './auth-route.rules';
import { REQUEST_AUTH_KEY, type RequestAuth, type RequestWithAuth } from './current-auth.decorator';
import { crossSiteWriteProblem } from './cross-site-write';
import { requestClientIp, requestCredential } from './request-credential';
import { ValidationCache } from './validation-cache';

@Injectable()
export class SovrenAuthGuard implements CanActivate {
  private readonly logger = new Logger(SovrenAuthGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly nats: NatsClient,
    private readonly cache: ValidationCache,
    @Inject(AUTH_GUARD_OPTIONS) private readonly options: Required<AuthGuardOptions>,
    @Inject(AUTH_GUARD_SETTINGS) private readonly settings: AuthGuardSettings,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const declared = this.reflector.getAllAndOverride<AuthRouteOptions | undefined>(AUTH_ROUTE_OPTIONS, [
      context.getHandler(),
      context.getClass(),
    ]);
    const http = context.switchToHttp();
    const req = http.getRequest<IncomingMessage & { ip?: string } & RequestWithAuth>();
    const res = http.getResponse<ServerResponse>();
    // Checked at start-up too (AuthRouteAudit); a route reaching here undeclared is a programming error.
    const problems = authRouteProblems(declared);
    if (!declared || problems.length > 0) {
      this.logger.error({ msg: 'guarded route without a valid access declaration', problems, path: req.url });
      throw new ApiError(HttpStatus.INTERNAL_SERVER_ERROR, ApiErrorCode.INTERNAL, 'this route declares no access rule');
    }
    const route = declared;
    const crossSite = crossSiteWriteProblem(req, this.settings.publicOrigins);
    if (crossSite !== undefined) {
      throw new ApiError(HttpStatus.FORBIDDEN, ApiErrorCode.FORBIDDEN, crossSite, { reason: 'cross_site_write' });
    }
    // A second SovrenAuthGuard on the same request (class and handler both decorated) must not count it again.
    const already = req[REQUEST_AUTH_KEY];
    if (already) return this.authorize(route, already, res);
    const credential = requestCredential(req);
    if (route.rateLimitedByRoute && route.allowAnonymous) {
      req[REQUEST_AUTH_KEY] = { identity: { kind: 'anonymous' }, scopes: [], tier: 'anonymous' };
      return true;
    }
    const reply = await this.validation(
      credential,
      requestClientIp(req),
      route.routeClass,
      Boolean(route.allowAnonymous && route.anonymousWhenAuthUnavailable && credential === undefined),
    );
    if (reply === 'unavailable-anonymous') {
      req[REQUEST_AUTH_KEY] = { identity: { kind: 'anonymous' }, scopes: [], tier: 'anonymous' };
      return true;
    }

    const limit = reply.rateLimit;
    res.setHeader('X-RateLimit-Limit', String(limit.limit));
    res.setHeader('X-RateLimit-Remaining', String(limit.remaining));
    res.setHeader('X-RateLimit-Reset', String(limit.reset));

    if (!limit.allowed) {
      const retryAfter = limit.retryAfter ?? Math.max(1, limit.reset - Math.floor(Date.now() / 1000));
      res.setHeader('Retry-After', String(retryAfter));
      throw new ApiError(
        HttpStatus.TOO_MANY_REQUESTS,
        ApiErrorCode.RATE_LIMITED,
        `rate limit of ${limit.limit} requests per hour reached for the ${reply.tier} tier; retry in ${retryAfter} s`,
        { tier: reply.tier, limit: limit.limit, reset: limit.reset, retry_after: retryAfter },
      );
    }
    // After the limit: guessing credentials from one address is rate limited like anonymous requests.
    if (reply.result === 'invalid') {
      throw new ApiError(HttpStatus.UNAUTHORIZED, ApiErrorCode.UNAUTHORIZED, 'the credential was refused', {
        reason: reply.reason ?? 'invalid',
      });
    }
    const auth: RequestAuth = { identity: reply.identity, scopes: reply.scopes, tier: reply.tier, credential };
    return this.authorize(route, auth, res, req);
  }

  /** Anonymous, role and scope checks of a validated request; records the identity on the request. */
  private authorize(route: AuthRouteOptions, auth: RequestAuth, res: ServerResponse, req?: RequestWithAuth): boolean {
    if (auth.identity.kind === 'anonymous' && !route.allowAnonymous) {
      throw new ApiError(
        HttpStatus.UNAUTHORIZED,
        ApiErrorCode.UNAUTHORIZED,
        'authentication required: send a session (Authorization: Bearer or cookie) or an API key (X-API-Key)',
      );
    }
    if (route.roles && route.roles.length > 0 && !(auth.identity.role && route.roles.includes(auth.identity.role))) {
      throw new ApiError(HttpStatus.FORBIDDEN, ApiErrorCode.FORBIDDEN, `requires role: ${route.roles.join(' or ')}`);
    }
    const missing = (route.scopes ?? []).filter((scope) => !auth.scopes.includes(scope));
    if (missing.length > 0) {
      res.setHeader('WWW-Authenticate', `Bearer error="insufficient_scope", scope="${missing.join(' ')}"`);
      throw new ApiError(
        HttpStatus.FORBIDDEN,
        ApiErrorCode.INSUFFICIENT_SCOPE,
        `this credential lacks the scope ${missing.join(', ')}`,
        { missing_scopes: missing },
      );
    }
    if (req) req[REQUEST_AUTH_KEY] = auth;
    return true;
  }

  private async validation(
    credential: string | undefined,
    clientIp: string,
    routeClass: string,
    anonymousWhenUnavailable: boolean,
  ): Promise<AuthValidateReplyV1 | 'unavailable-anonymous'> {
    const key = credential === undefined ? undefined : ValidationCache.keyOf(credential);
    if (key !== undefined) {
      const cached = this.cache.take(key);
      if (cached) return cached;
    }
    const request: AuthValidateRequestV1 = { v: 1, clientIp, routeClass };
    if (credential !== undefined) request.credential = credential;
    const served = key === undefined ? 0 : this.cache.drainServed(key);
    if (served > 0) request.cachedHits = served;
    const servedForUser = key === undefined ? 0 : this.cache.drainUserServed(key);
    if (servedForUser > 0) request.userCachedHits = servedForUser;
    let reply: AuthValidateReplyV1;
    try {
      reply = await this.nats.request<AuthValidateRequestV1, AuthValidateReplyV1>(AUTH_VALIDATE, request, {
        timeoutMs: this.options.timeoutMs,
        parse: parseAuthValidateReplyV1,
      });
    } catch (error) {
      this.logger.warn({
        msg: anonymousWhenUnavailable
          ? 'auth.validate failed; serving the anonymous request unlimited'
          : 'auth.validate failed; refusing the request',
        route_class: routeClass,
        err: errorMessage(error),
      });
      if (anonymousWhenUnavailable) return 'unavailable-anonymous';
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'authentication is temporarily unavailable; try again shortly',
        { dependency: 'auth' },
      );
    }
    if (key !== undefined) this.cache.put(key, reply);
    return reply;
  }
}
