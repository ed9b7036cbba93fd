// The state store passport-oauth2 asks for with `pkce: true`: instead of a server session, each redirect to a
// provider is a row in api_auth.db (LoginAttemptsRepository) holding the PKCE verifier passport generated, the
// OIDC nonce, the account to link to and where to go afterwards, bound to the browser by a cookie. The callback
// consumes the row (a state works once), and the attempt rides on the request to the strategy's verify step.
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';

import { readCookie } from '@sovren/auth-guard';

import { LoginAttempt, LoginAttemptsRepository } from '../login-attempts.repository';
import { LoginErrorCode } from '../login.errors';

export const LOGIN_COOKIE = 'sovren_login';

/** What the login start hands to passport as `options.state` (an object, so the store persists it). */
export interface LoginRequestState {
  binding: string;
  nonce: string;
  linkUserId: string | null;
  returnTo: string;
  /** The address that started the login (unfinished logins are capped per address). */
  clientIp: string;
}

/** The `info` of a refused state, read back by the login guard. */
export interface StateRefusal {
  message: string;
  reason: LoginErrorCode.STATE_MISSING | LoginErrorCode.STATE_INVALID;
}

const ATTEMPT = Symbol('sovren.loginAttempt');
type RequestWithAttempt = IncomingMessage & { [ATTEMPT]?: LoginAttempt };

/** The attempt the store verified for this callback; absent means the verify step ran without one. */
export function verifiedAttemptOf(req: IncomingMessage): LoginAttempt | undefined {
  return (req as RequestWithAttempt)[ATTEMPT];
}

export class LoginStateStore {
  constructor(
    private readonly providerId: string,
    private readonly attempts: LoginAttemptsRepository,
  ) {}

  /** passport-oauth2 picks the PKCE form of the store by this arity (5). */
  store(
    _req: IncomingMessage,
    codeVerifier: string,
    state: LoginRequestState,
    _meta: unknown,
    callback: (error: Error | null, handle?: string) => void,
  ): void {
    const handle = randomBytes(32).toString('base64url');
    try {
      this.attempts.save(
        handle,
        state.binding,
        {
          provider: this.providerId,
          codeVerifier,
          nonce: state.nonce,
          linkUserId: state.linkUserId,
          returnTo: state.returnTo,
        },
        state.clientIp,
      );
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    callback(null, handle);
  }

  verify(
    req: IncomingMessage,
    providedState: unknown,
    callback: (error: Error | null, verifier: string | false, info?: StateRefusal) => void,
  ): void {
    if (typeof providedState !== 'string' || providedState === '') {
      callback(null, false, {
        message: 'the callback has no state: the login cannot be trusted',
        reason: LoginErrorCode.STATE_MISSING,
      });
      return;
    }
    let consumed;
    try {
      consumed = this.attempts.consume(providedState, this.providerId, readCookie(req, LOGIN_COOKIE));
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)), false);
      return;
    }
    if (!consumed.ok) {
      callback(null, false, {
        message: `the login state was refused: ${consumed.why}`,
        reason: LoginErrorCode.STATE_INVALID,
      });
      return;
    }
    (req as RequestWithAttempt)[ATTEMPT] = consumed.attempt;
    callback(null, consumed.attempt.codeVerifier);
  }
}
