// /api/v1/auth/providers, /login/:provider (passport redirects to the provider) and /callback/:provider (back
// from it: LoginCallbackGuard runs the provider's passport strategy; this opens the session, sets the cookies
// and redirects). SessionService opens the session.
import { Controller, Get, Param, Query, Redirect, Req, Res, UseGuards } from '@nestjs/common';
import { ACCESS_COOKIE, DEVICE_COOKIE, readCookie, requestClientIp } from '@sovren/auth-guard';
import { RawResponse } from '@sovren/http';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { AuthConfig } from '../auth-config/auth-config';
import { setDeviceCookie, setSessionCookies } from '../sessions/session-cookies';
import { SessionService } from '../sessions/session.service';
import { SecurityNotices } from '../notifications/security-notices.service';
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
  async start(
    @Param('provider') providerId: string,
    @Query() query: LoginQuery,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    try {
      const strategy = await this.strategies.ready(this.login.provider(providerId));
      const binding = random();
      res.setHeader('Set-Cookie', [
        `${LOGIN_COOKIE}=${binding}; Path=${LOGIN_COOKIE_PATH}; Max-Age=600; HttpOnly; Secure; SameSite=Lax`,
      ]);
      await this.strategies.redirectToProvider(
        strategy,
        {
          binding,
          nonce: random(),
          linkUserId: this.signedInUser(req) ?? null,
          returnTo: safeReturnTo(query.return_to),
        },
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
    const knownDevice = readCookie(req, DEVICE_COOKIE);
    const deviceId =
      knownDevice && /^[A-Za-z0-9_-]{16,64}$/.test(knownDevice) ? knownDevice : randomBytes(18).toString('base64url');
    if (deviceId !== knownDevice) setDeviceCookie(res, deviceId, this.config.cookieSameSite);
    const userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined;
    const session = this.sessions.create(result.userId, { deviceId, userAgent, ip: requestClientIp(req) });
    setSessionCookies(res, session, this.config.cookieSameSite);
    if (session.newDevice && !result.newUser) {
      this.notices.newDeviceSignIn(result.userId, { provider: result.provider, userAgent, ip: requestClientIp(req) });
    }
    return { url: result.returnTo, statusCode: 302 };
  }

  /** The user of a valid session cookie, if the browser has one: a login then links the new identity to it. */
  private signedInUser(req: IncomingMessage): string | undefined {
    const token = readCookie(req, ACCESS_COOKIE);
    if (!token) return undefined;
    const check = this.sessions.checkAccessToken(token);
    return check.ok ? check.userId : undefined;
  }
}
