// The provider's redirect back to /api/v1/auth/callback/:provider, run by @nestjs/passport's AuthGuard for that
// provider's strategy. Before passport: the query is checked, and a callback passport would not verify the state
// of (the provider reported an error, or sent no code — passport would start a new login) has its state used up
// here, so a state works once whatever comes back. Every outcome is counted; every refusal becomes a LoginError
// with the reason the API reports, and no refusal creates a session. On success `req.user` is the LoginResult.
import { CanActivate, ExecutionContext, Injectable, type Type } from '@nestjs/common';
import { AuthGuard, type IAuthGuard } from '@nestjs/passport';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthorizationError, InternalOAuthError, TokenError } from 'passport-oauth2';

import type { LoginProvider } from '../../auth-config/login-providers.config';
import { LoginError, LoginErrorCode, toApiError } from '../login.errors';
import { OAuthLoginService } from '../oauth-login.service';
import type { TransportFailure } from './egress-oauth2-transport';
import { LOGIN_COOKIE, type StateRefusal } from './login-state.store';
import { LoginStrategies, type RegisteredStrategy } from './login-strategies';

export const LOGIN_COOKIE_PATH = '/api/v1/auth/callback';

interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
  error_description?: string;
}

/** The parameters we read, with their longest accepted value; providers add others (scope, iss, authuser...). */
const CALLBACK_LIMITS: Record<keyof CallbackQuery, number> = {
  code: 2048,
  state: 256,
  error: 256,
  error_description: 1024,
};

type CallbackRequest = IncomingMessage & { params: Record<string, string>; query: Record<string, unknown> };

function callbackQueryOf(req: CallbackRequest): CallbackQuery {
  const query: CallbackQuery = {};
  const problems: Array<{ field: string; messages: string[] }> = [];
  for (const [field, limit] of Object.entries(CALLBACK_LIMITS) as Array<[keyof CallbackQuery, number]>) {
    const value = req.query[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') problems.push({ field, messages: [`${field} must be given once, as a string`] });
    else if (value.length > limit)
      problems.push({ field, messages: [`${field} must be shorter than or equal to ${limit} characters`] });
    else query[field] = value;
  }
  if (problems.length > 0)
    throw new ApiError(400, ApiErrorCode.VALIDATION_FAILED, 'Request validation failed', problems);
  return query;
}

function isStateRefusal(info: unknown): info is StateRefusal {
  return typeof info === 'object' && info !== null && typeof (info as StateRefusal).reason === 'string';
}

/** What passport reported, as the refusal the API gives. */
function refusalOf(provider: LoginProvider, error: unknown, info: unknown, query: CallbackQuery): unknown {
  if (error instanceof LoginError) return error;
  if (error instanceof TokenError) {
    return new LoginError(
      LoginErrorCode.CODE_EXCHANGE_FAILED,
      `${provider.name} refused the code exchange: ${error.message || error.code}`,
    );
  }
  if (error instanceof AuthorizationError) {
    return new LoginError(
      LoginErrorCode.CONSENT_DENIED,
      `${provider.name} did not grant the login (${error.code}${error.message ? `: ${error.message}` : ''})`,
    );
  }
  if (error instanceof InternalOAuthError) {
    const failure = error.oauthError as TransportFailure | undefined;
    if (failure?.unreachable !== undefined) {
      return new LoginError(
        LoginErrorCode.PROVIDER_UNREACHABLE,
        `could not reach ${provider.name} to exchange the code: ${failure.unreachable}`,
      );
    }
    return new LoginError(
      LoginErrorCode.CODE_EXCHANGE_FAILED,
      `${provider.name} answered the code exchange with status ${failure?.statusCode ?? 'unknown'}`,
    );
  }
  // passport-oauth2's words when the token answer had no access_token.
  if (error instanceof Error && error.message === 'Failed to obtain access token') {
    return new LoginError(LoginErrorCode.CODE_EXCHANGE_FAILED, `${provider.name} returned no access_token`);
  }
  if (error) return error;
  if (isStateRefusal(info)) return new LoginError(info.reason, info.message);
  if (query.error) {
    const described =
      typeof (info as { message?: unknown } | undefined)?.message === 'string'
        ? `: ${(info as { message: string }).message}`
        : '';
    return new LoginError(
      LoginErrorCode.CONSENT_DENIED,
      `${provider.name} did not grant the login (${query.error}${described})`,
    );
  }
  return new Error(`the ${provider.name} strategy refused the login without a reason`);
}

@Injectable()
export class LoginCallbackGuard implements CanActivate {
  /** One @nestjs/passport AuthGuard per strategy name (AuthGuard itself memoizes the class per name). */
  private readonly guards = new Map<string, IAuthGuard>();

  constructor(
    private readonly login: OAuthLoginService,
    private readonly strategies: LoginStrategies,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<CallbackRequest>();
    const res = context.switchToHttp().getResponse<ServerResponse>();
    const providerId = req.params['provider'] ?? '';
    // Whatever happens, the binding cookie has done its job.
    res.setHeader('Set-Cookie', [
      `${LOGIN_COOKIE}=; Path=${LOGIN_COOKIE_PATH}; Max-Age=0; HttpOnly; Secure; SameSite=Lax`,
    ]);
    const query = callbackQueryOf(req);
    try {
      const provider = this.login.provider(providerId);
      const strategy = await this.strategies.ready(provider);
      if (!query.state)
        throw new LoginError(LoginErrorCode.STATE_MISSING, 'the callback has no state: the login cannot be trusted');
      if (query.error !== undefined || query.code === undefined) {
        await this.useUpState(strategy, req, query.state);
        if (query.error === undefined)
          throw new LoginError(LoginErrorCode.CODE_MISSING, 'the callback has no authorization code');
      }
      await this.guardOf(strategy).canActivate(context);
      this.login.recordOutcome(providerId);
      return true;
    } catch (error) {
      this.login.recordOutcome(providerId, error);
      if (error instanceof LoginError) throw toApiError(error, providerId);
      throw error;
    }
  }

  private useUpState(strategy: RegisteredStrategy, req: IncomingMessage, state: string): Promise<void> {
    return new Promise((resolve, reject) =>
      strategy.store.verify(req, state, (error, verifier, refusal) => {
        if (error) reject(error);
        else if (verifier === false)
          reject(
            new LoginError(
              refusal?.reason ?? LoginErrorCode.STATE_INVALID,
              refusal?.message ?? 'the login state was refused',
            ),
          );
        else resolve();
      }),
    );
  }

  private guardOf(strategy: RegisteredStrategy): IAuthGuard {
    let guard = this.guards.get(strategy.name);
    if (!guard) {
      const Base = AuthGuard(strategy.name) as Type<IAuthGuard>;
      guard = new (class extends Base {
        override handleRequest<TUser>(error: unknown, user: TUser, info: unknown, context: ExecutionContext): TUser {
          if (!error && user) return user;
          const req = context.switchToHttp().getRequest<CallbackRequest>();
          throw refusalOf(strategy.provider, error, info, callbackQueryOf(req));
        }
      })();
      this.guards.set(strategy.name, guard);
    }
    return guard;
  }
}
