// /api/v1/auth: refresh, logout, logout everywhere, my sessions, me. Thin: translate HTTP to SessionService.
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBody,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuthRoute, CurrentAuth, readCookie, REFRESH_COOKIE, type RequestAuth } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { AuthConfig } from '../auth-config/auth-config';
import { RefreshRateLimitGuard } from '../rate-limit/refresh-rate-limit.guard';
import { UsersRepository } from '../users/users.repository';
import { RefreshSessionDto } from './dtos/refresh-session.dto';
import {
  MeResponse,
  RefreshedSessionResponse,
  RevokedCountResponse,
  RevokedResponse,
  SessionResponse,
} from './dtos/session.responses';
import { clearSessionCookies, setSessionCookies } from './session-cookies';
import { SessionService, SessionView } from './session.service';

export const AUTH_ROUTE_CLASS = 'auth';

function requireUser(auth: RequestAuth | undefined): { userId: string; sessionId?: string } {
  if (!auth?.identity.userId) throw ApiError.fromCode(ApiErrorCode.UNAUTHORIZED, 'authentication required');
  return { userId: auth.identity.userId, sessionId: auth.identity.sessionId };
}

@ApiTags('sessions')
@Controller('api/v1/auth')
export class SessionsController {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UsersRepository,
    private readonly config: AuthConfig,
  ) {}

  /** New access + refresh pair. The refresh token comes from the body (API clients) or the cookie (browsers). */
  @Post('refresh')
  @ApiOperation({
    summary: 'New access and refresh tokens for a refresh token (body or cookie)',
    description:
      'API clients send `refresh_token` and get both tokens in the answer; browsers send the sovren_refresh cookie and ' +
      'get new cookies. The old refresh token is spent. Counted per refresh token, not by the shared guard.',
  })
  @ApiBody({ type: RefreshSessionDto, required: false })
  @ApiOkResponse({ description: 'The new session tokens (or cookies).', type: RefreshedSessionResponse })
  @HttpCode(HttpStatus.OK)
  @UseGuards(RefreshRateLimitGuard)
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, allowAnonymous: true, rateLimitedByRoute: true })
  refresh(
    @Body() dto: RefreshSessionDto,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): {
    session_id: string;
    access_expires_at: string;
    refresh_expires_at: string;
    access_token?: string;
    refresh_token?: string;
  } {
    const fromBody = dto.refresh_token;
    const token = fromBody ?? readCookie(req, REFRESH_COOKIE);
    if (!token) {
      throw ApiError.fromCode(
        ApiErrorCode.UNAUTHORIZED,
        'no refresh token: send refresh_token or the sovren_refresh cookie',
      );
    }
    const issued = this.sessions.refresh(token);
    const body = {
      session_id: issued.sessionId,
      access_expires_at: new Date(issued.accessExpiresAt).toISOString(),
      refresh_expires_at: new Date(issued.refreshExpiresAt).toISOString(),
    };
    if (fromBody !== undefined)
      return { ...body, access_token: issued.accessToken, refresh_token: issued.refreshToken };
    setSessionCookies(res, issued, this.config.cookieSameSite);
    return body;
  }

  /** Ends the session this request belongs to. */
  @Post('logout')
  @ApiOperation({ summary: 'End the session this request belongs to (and clear its cookies)' })
  @ApiOkResponse({ description: 'Whether a session was ended.', type: RevokedResponse })
  @HttpCode(HttpStatus.OK)
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:sessions'] })
  logout(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Res({ passthrough: true }) res: ServerResponse,
  ): { revoked: boolean } {
    const { userId, sessionId } = requireUser(auth);
    if (!sessionId)
      throw ApiError.fromCode(ApiErrorCode.BAD_REQUEST, 'logout needs a session; an API key is revoked instead');
    const revoked = this.sessions.revoke(userId, sessionId, 'logout');
    clearSessionCookies(res, this.config.cookieSameSite);
    return { revoked };
  }

  /** Ends every session of the signed-in user (API keys stay: they are revoked one by one). */
  @Post('logout-everywhere')
  @ApiOperation({ summary: 'End every session of the signed-in user (API keys stay)' })
  @ApiOkResponse({ description: 'How many sessions were ended.', type: RevokedCountResponse })
  @HttpCode(HttpStatus.OK)
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:sessions'] })
  logoutEverywhere(
    @CurrentAuth() auth: RequestAuth | undefined,
    @Res({ passthrough: true }) res: ServerResponse,
  ): { revoked: number } {
    const { userId } = requireUser(auth);
    const revoked = this.sessions.revokeAll(userId, 'logout_everywhere');
    clearSessionCookies(res, this.config.cookieSameSite);
    return { revoked };
  }

  @Get('sessions')
  @ApiOperation({ summary: "The signed-in user's sessions" })
  @ApiOkResponse({ description: 'Sessions, the current one marked.', type: [SessionResponse] })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:sessions'] })
  list(@CurrentAuth() auth: RequestAuth | undefined): Array<SessionView & { current: boolean }> {
    const { userId, sessionId } = requireUser(auth);
    return this.sessions.list(userId).map((session) => ({ ...session, current: session.id === sessionId }));
  }

  @Delete('sessions/:id')
  @ApiOperation({ summary: 'End one of your sessions' })
  @ApiNoContentResponse({ description: 'Ended.' })
  @ApiNotFoundResponse({
    description: 'No such live session of yours.',
    schema: { $ref: '#/components/schemas/ApiErrorEnvelope' },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:sessions'] })
  revoke(@CurrentAuth() auth: RequestAuth | undefined, @Param('id', new ParseUUIDPipe()) id: string): void {
    const { userId } = requireUser(auth);
    if (!this.sessions.revoke(userId, id, 'revoked_by_user')) {
      throw ApiError.fromCode(ApiErrorCode.NOT_FOUND, `session ${id} does not exist or is already revoked`);
    }
  }

  @Get('me')
  @ApiOperation({ summary: 'The signed-in user, their sign-in methods, and this credential' })
  @ApiOkResponse({ description: 'Who you are and what this credential may do.', type: MeResponse })
  @AuthRoute({ routeClass: AUTH_ROUTE_CLASS, scopes: ['auth:profile'] })
  me(@CurrentAuth() auth: RequestAuth | undefined): Record<string, unknown> {
    const { userId } = requireUser(auth);
    const user = this.users.findById(userId);
    if (!user) throw ApiError.fromCode(ApiErrorCode.UNAUTHORIZED, 'the user no longer exists');
    return {
      user: { id: user.id, email: user.email, display_name: user.displayName, role: user.role },
      identities: this.users
        .identitiesOf(userId)
        .map((identity) => ({ provider: identity.provider, email: identity.email })),
      identity: auth?.identity,
      scopes: auth?.scopes,
      tier: auth?.tier,
    };
  }
}
