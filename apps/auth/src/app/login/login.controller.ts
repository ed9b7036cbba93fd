// /api/v1/auth/providers, /login/:provider (passport redirects to the provider), /identities/link/:provider (the
// signed-in session asks to add an identity: same redirect, marked "link to user X") and /callback/:provider
// (back from it: LoginCallbackGuard runs the provider's passport strategy; this opens the session — or, for a
// link, mails the user — and redirects). A login never links: it signs in as the identity's own user.
import { Controller, Get, Param, Post, Query, Redirect, Req, Res, UseGuards } from '@nestjs/common';
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
import { setDeviceCookie, setSessionCookies } from '../sessions/session-cookies';
import { SessionService } from '../sessions/session.service';
import { AUTH_ROUTE_CLASS } from '../sessions/sessions.controller';
import { LoginQuery } from './dtos/login-query.dto';
import { LoginError, toApiError } from './login.errors';
import { OAuthLoginService, safeReturnTo, type LoginResult } from './oauth-login.service';
import { LOGIN_COOKIE_PATH, LoginCallbackGuard } from './passport/login-callback.guard';
import { LOGIN_COOKIE } from './passport/login-state.store';
import { LoginStrategies } from './passport/login-strategies';

const random = (): string => randomBytes(32).toString('base64url');

@Controller('api/v1/auth')
export class LoginController {
  constructor(
    private readonly login: OAuthLoginService,
    private readonly strategies: LoginStrategies,
    private readonly sessions: SessionService,
    private readonly config: AuthConfig,
    private readonly notices: SecurityNotices,
  ) {}

  @Get('providers')
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
        403,
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
    try {
      const strategy = await this.strategies.ready(this.login.provider(providerId));
      const binding = random();
      res.setHeader('Set-Cookie', [
        `${LOGIN_COOKIE}=${binding}; Path=${LOGIN_COOKIE_PATH}; Max-Age=600; HttpOnly; Secure; SameSite=Lax`,
      ]);
      await this.strategies.redirectToProvider(
        strategy,
        { binding, nonce: random(), linkUserId, returnTo: safeReturnTo(query.return_to) },
        req,
        res,
      );
    } catch (error) {
      if (!res.headersSent) res.removeHeader('Set-Cookie');
      if (error instanceof LoginError) throw toApiError(error, providerId);
      throw error;
    }
  }

  @Get('callback/:provider')
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
