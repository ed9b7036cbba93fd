// /api/v1/auth/providers, /login/:provider (redirect to the provider) and /callback/:provider (back from it:
// session cookies, then redirect). Thin: OAuthLoginService runs the flow, SessionService opens the session.
import { Controller, Get, Param, Query, Redirect, Req, Res } from '@nestjs/common';
import { ACCESS_COOKIE, DEVICE_COOKIE, readCookie, requestClientIp } from '@sovren/auth-guard';
import { RawResponse } from '@sovren/http';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { AuthConfig } from '../auth-config/auth-config';
import { setDeviceCookie, setSessionCookies } from '../sessions/session-cookies';
import { SessionService } from '../sessions/session.service';
import { CallbackQueryDto, LoginQuery } from './dtos/login-query.dto';
import { LoginError, toApiError } from './login.errors';
import { OAuthLoginService } from './oauth-login.service';
import { SecurityNotices } from '../notifications/security-notices.service';

export const LOGIN_COOKIE = 'sovren_login';
const LOGIN_COOKIE_PATH = '/api/v1/auth/callback';

@Controller('api/v1/auth')
export class LoginController {
  constructor(
    private readonly login: OAuthLoginService,
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

  @Get('login/:provider')
  @RawResponse()
  @Redirect()
  async start(
    @Param('provider') providerId: string,
    @Query() query: LoginQuery,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<{ url: string; statusCode: number }> {
    const linkUserId = this.signedInUser(req);
    try {
      const { url, binding } = await this.login.start(providerId, { linkUserId, returnTo: query.return_to });
      res.setHeader('Set-Cookie', [
        `${LOGIN_COOKIE}=${binding}; Path=${LOGIN_COOKIE_PATH}; Max-Age=600; HttpOnly; Secure; SameSite=Lax`,
      ]);
      return { url, statusCode: 302 };
    } catch (error) {
      if (error instanceof LoginError) throw toApiError(error, providerId);
      throw error;
    }
  }

  @Get('callback/:provider')
  @RawResponse()
  @Redirect()
  async callback(
    @Param('provider') providerId: string,
    @Query() query: CallbackQueryDto,
    @Req() req: IncomingMessage & { ip?: string },
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<{ url: string; statusCode: number }> {
    // Whatever happens, the binding cookie has done its job.
    res.setHeader('Set-Cookie', [`${LOGIN_COOKIE}=; Path=${LOGIN_COOKIE_PATH}; Max-Age=0; HttpOnly; Secure; SameSite=Lax`]);
    let result;
    try {
      result = await this.login.finish(providerId, query, readCookie(req, LOGIN_COOKIE));
    } catch (error) {
      if (error instanceof LoginError) throw toApiError(error, providerId);
      throw error;
    }
    const knownDevice = readCookie(req, DEVICE_COOKIE);
    const deviceId = knownDevice && /^[A-Za-z0-9_-]{16,64}$/.test(knownDevice) ? knownDevice : randomBytes(18).toString('base64url');
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
