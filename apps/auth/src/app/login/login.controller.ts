// /api/v1/auth/providers, /login/:provider (passport redirects to the provider), /identities/link/:provider (the
// signed-in session asks to add an identity: same redirect, marked "link to user X") and /callback/:provider
// (back from it: LoginCallbackGuard runs the provider's passport strategy; this opens the session — or, for a
// link, mails the user — and redirects). A login never links: it signs in as the identity's own user.
import { Controller, Get, HttpStatus, Param, Post, Query, Redirect, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import {
  AuthRoute,
  CurrentAuth,
  DEVICE_COOKIE,
  readCookie,
  requestClientIp,
  type RequestAuth,
} from '@sovren/auth-guard';
import { ApiError, ApiErrorCode, RawResponse } from '@sovren/http';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { AuthConfig } from '../auth-config/auth-config';
import { SecurityNotices } from '../notifications/security-notices.service';
import { SlidingWindowRateLimiter } from '../rate-limit/sliding-window.rate-limiter';
import { setDeviceCookie, setSessionCookies } from '../sessions/session-cookies';
import { SessionService } from '../sessions/session.service';
import { AUTH_ROUTE_CLASS } from '../sessions/sessions.controller';
import { LoginQuery } from './dtos/login-query.dto';
import { LoginProviderResponse } from './dtos/provider.responses';
import { LoginError, LoginErrorCode, toApiError } from './login.errors';
import { OAuthLoginService, safeReturnTo, type LoginResult } from './oauth-login.service';
import { LOGIN_COOKIE_PATH, LoginCallbackGuard } from './passport/login-callback.guard';
import { LOGIN_COOKIE } from './passport/login-state.store';
import { LoginStrategies } from './passport/login-strategies';

const random = (): string => randomBytes(32).toString('base64url');
/** What a login start refused for too many logins in progress suggests waiting (attempts live ten minutes). */
const LOGINS_BUSY_RETRY_AFTER_S = 60;

@ApiTags('login')
@Controller('api/v1/auth')
export class LoginController {
  constructor(
    private readonly login: OAuthLoginService,
    private readonly strategies: LoginStrategies,
    private readonly sessions: SessionService,
    private readonly config: AuthConfig,
    private readonly notices: SecurityNotices,
    private readonly limiter: SlidingWindowRateLimiter,
  ) {}

  @Get('providers')
  @ApiOperation({ summary: 'The sign-in providers configured on this platform' })
  @ApiOkResponse({ description: 'Providers and where a browser starts each sign-in.', type: [LoginProviderResponse] })
  providers(): Array<{ id: string; name: string; protocol: string; login_url: string }> {
    return this.login.providers().map((provider) => ({
      id: provider.id,
      name: provider.name,
      protocol: provider.protocol,
      login_url: `/api/v1/auth/login/${provider.id}`,
    }));
  }

  /** Answered by passport: 302 to the provider with state, PKCE challenge and (OIDC) nonce. */
  @Get('login/:provider')
  @ApiOperation({
    summary: 'Start a browser sign-in: redirect to the provider',
    description: 'Sets the short-lived sovren_login cookie; limited per client address.',
  })
  @ApiFoundResponse({ description: 'Redirect to the provider (state, PKCE challenge, OIDC nonce).' })
  @ApiTooManyRequestsResponse({
    description: 'Too many logins started from this address (RATE_LIMITED, with Retry-After).',
    schema: { $ref: '#/components/schemas/ApiErrorEnvelope' },
  })
  @RawResponse()
  start(
    @Param('provider') providerId: string,
    @Query() query: LoginQuery,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    return this.redirectToProvider(providerId, query, null, req, res);
  }

  /**
   * The explicit link request of a signed-in browser session (an API key cannot add sign-in methods): the same
   * redirect as a login, its attempt marked "link to this user". The callback adds the identity to the user
   * (409 if another user has it), opens no new session, and mails the user.
   */
  @Post('identities/link/:provider')
  @ApiOperation({
    summary: 'Link another sign-in method to your user: redirect to the provider',
    description: 'A signed-in browser session only (not an API key); the callback adds the identity and mails you.',
  })
  @ApiFoundResponse({ description: 'Redirect to the provider.' })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:sessions'] })
  @RawResponse()
  link(
    @Param('provider') providerId: string,
    @Query() query: LoginQuery,
    @CurrentAuth() auth: RequestAuth | undefined,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const identity = auth?.identity;
    if (identity?.kind !== 'session' || !identity.userId) {
      throw new ApiError(
        HttpStatus.FORBIDDEN,
        ApiErrorCode.FORBIDDEN,
        'linking a sign-in method needs a signed-in browser session, not an API key',
        { reason: 'session_required' },
      );
    }
    return this.redirectToProvider(providerId, query, identity.userId, req, res);
  }

  private async redirectToProvider(
    providerId: string,
    query: LoginQuery,
    linkUserId: string | null,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const clientIp = requestClientIp(req);
    this.limitLoginStarts(clientIp, res);
    try {
      const strategy = await this.strategies.ready(this.login.provider(providerId));
      const binding = random();
      res.setHeader('Set-Cookie', [
        `${LOGIN_COOKIE}=${binding}; Path=${LOGIN_COOKIE_PATH}; Max-Age=600; HttpOnly; Secure; SameSite=Lax`,
      ]);
      await this.strategies.redirectToProvider(
        strategy,
        { binding, nonce: random(), linkUserId, returnTo: safeReturnTo(query.return_to), clientIp },
        req,
        res,
      );
    } catch (error) {
      if (!res.headersSent) {
        res.removeHeader('Set-Cookie');
        if (error instanceof LoginError && error.code === LoginErrorCode.TOO_MANY_LOGINS)
          res.setHeader('Retry-After', String(LOGINS_BUSY_RETRY_AFTER_S));
      }
      if (error instanceof LoginError) throw toApiError(error, providerId);
      throw error;
    }
  }

  /** Login starts are counted per client address (each one stores an attempt and costs a provider redirect). */
  private limitLoginStarts(clientIp: string, res: ServerResponse): void {
    const decision = this.limiter.hit(`login-start:${clientIp}`, this.config.login.startsPerHour);
    if (decision.allowed) return;
    const retryAfter = decision.retryAfter ?? 60;
    res.setHeader('Retry-After', String(retryAfter));
    throw new ApiError(
      HttpStatus.TOO_MANY_REQUESTS,
      ApiErrorCode.RATE_LIMITED,
      `too many logins started from this address (${decision.limit} per hour); retry in ${retryAfter} s`,
      { limit: decision.limit, reset: decision.reset, retry_after: retryAfter },
    );
  }

  @Get('callback/:provider')
  @ApiOperation({
    summary: 'Back from the provider: open the session (or link the identity) and redirect',
    description: 'Called by the browser on its way back from the provider; sets the session cookies.',
  })
  @ApiFoundResponse({ description: 'Redirect to return_to (or /), with session cookies set.' })
  @ApiParam({ name: 'provider', description: 'The provider id, as listed by /api/v1/auth/providers' })
  @UseGuards(LoginCallbackGuard)
  @RawResponse()
  @Redirect()
  callback(
    @Req() req: IncomingMessage & { user: LoginResult },
    @Res({ passthrough: true }) res: ServerResponse,
  ): { url: string; statusCode: number } {
    const result = req.user;
    const userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined;
    if (result.mode === 'link') {
      if (result.linked) {
        this.notices.identityLinked(result.userId, {
          provider: this.login.provider(result.provider).name,
          identityEmail: result.identityEmail,
          userAgent,
          ip: requestClientIp(req),
        });
      }
      return { url: result.returnTo, statusCode: 302 };
    }
    const knownDevice = readCookie(req, DEVICE_COOKIE);
    const deviceId =
      knownDevice && /^[A-Za-z0-9_-]{16,64}$/.test(knownDevice) ? knownDevice : randomBytes(18).toString('base64url');
    if (deviceId !== knownDevice) setDeviceCookie(res, deviceId, this.config.cookieSameSite);
    const session = this.sessions.create(result.userId, { deviceId, userAgent, ip: requestClientIp(req) });
    setSessionCookies(res, session, this.config.cookieSameSite);
    if (session.newDevice && !result.newUser) {
      this.notices.newDeviceSignIn(result.userId, { provider: result.provider, userAgent, ip: requestClientIp(req) });
    }
    return { url: result.returnTo, statusCode: 302 };
  }
}
