// One passport strategy per configured provider, registered through @nestjs/passport's PassportStrategy:
// Google on passport-google-oauth20, Microsoft on passport-microsoft, GitHub on passport-github2, every
// enterprise / custom server on passport-oauth2. A strategy is built on first use, after the provider's
// endpoints are known (an issuer-only OIDC entry needs its discovery document), and every one of them:
//   - sends state + PKCE (S256) through LoginStateStore (api_auth.db, bound to the browser), and for OIDC a nonce;
//   - exchanges the code through EgressClient (routeThroughEgress), never through its own HTTP client;
//   - for OIDC skips the provider's profile API and validates the id_token instead (IdTokenVerifier: signature,
//     iss — per tenant for Microsoft —, aud, exp, nonce): passport-microsoft alone would only read Graph /me;
//     profile claims the id_token lacks come from the provider's UserInfo endpoint, for the same `sub`;
//   - for GitHub and plain OAuth 2.0 reads the profile from the documented user endpoints.
// Names are unique per auth instance and unregistered on shutdown (passport's registry is process-wide).
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { EgressClient } from '@sovren/egress';
import type { IncomingMessage, ServerResponse } from 'node:http';
import passport from 'passport';
import { Strategy as GitHubStrategy } from 'passport-github2';
import { Strategy as GoogleStrategy } from 'passport-google-oauth20';
import { Strategy as MicrosoftStrategy } from 'passport-microsoft';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';

import type { LoginProvider } from '../../auth-config/login-providers.config';
import { LoginAttemptsRepository } from '../login-attempts.repository';
import { LoginError, LoginErrorCode } from '../login.errors';
import { OAuthLoginService, type ProviderProfile } from '../oauth-login.service';
import { ProviderMetadataService } from '../provider-metadata.service';
import { routeThroughEgress } from './egress-oauth2-transport';
import { LoginStateStore, verifiedAttemptOf, type LoginRequestState } from './login-state.store';

/** The constructor every provider's base strategy shares (options; the verify callback is added by the mixin). */
type OAuth2StrategyClass = new (
  options: Record<string, unknown>,
  verify: (...args: unknown[]) => void,
) => OAuth2Strategy;

export interface RegisteredStrategy {
  /** The name it is registered under with passport. */
  name: string;
  provider: LoginProvider;
  store: LoginStateStore;
}

let instances = 0;

function baseStrategyOf(provider: LoginProvider): OAuth2StrategyClass {
  switch (provider.id) {
    case 'google':
      return GoogleStrategy as unknown as OAuth2StrategyClass;
    case 'microsoft':
      return MicrosoftStrategy as unknown as OAuth2StrategyClass;
    case 'github':
      return GitHubStrategy as unknown as OAuth2StrategyClass;
    default:
      return OAuth2Strategy as unknown as OAuth2StrategyClass;
  }
}

@Injectable()
export class LoginStrategies implements OnModuleDestroy {
  private readonly prefix = `sovren-login-${++instances}-`;
  private readonly registered = new Map<string, Promise<RegisteredStrategy>>();

  constructor(
    private readonly login: OAuthLoginService,
    private readonly metadata: ProviderMetadataService,
    private readonly attempts: LoginAttemptsRepository,
    private readonly egress: EgressClient,
  ) {}

  /** The provider's strategy, registered on first use; a failed discovery is retried by the next login. */
  ready(provider: LoginProvider): Promise<RegisteredStrategy> {
    let pending = this.registered.get(provider.id);
    if (!pending) {
      pending = this.register(provider);
      this.registered.set(provider.id, pending);
      pending.catch(() => this.registered.delete(provider.id));
    }
    return pending;
  }

  /**
   * Sends the browser to the provider: passport builds the authorization URL (PKCE challenge, state from the
   * store, nonce) and answers 302. Resolves when the response is done (written, or the browser went away);
   * rejects if the strategy errs first.
   */
  redirectToProvider(
    strategy: RegisteredStrategy,
    state: LoginRequestState,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => resolve();
      res.once('close', done);
      const failed = (error: unknown): void => {
        res.off('close', done);
        reject(
          error instanceof Error
            ? error
            : new Error(`the ${strategy.provider.name} login could not start: ${String(error)}`),
        );
      };
      // passport's types say `state` is a string; an object is the documented way to have the store persist it.
      const options = { session: false, state } as unknown as passport.AuthenticateOptions;
      passport.authenticate(strategy.name, options, (error: unknown) =>
        failed(error ?? new Error('the strategy answered the login start without redirecting')),
      )(req, res, failed);
    });
  }

  onModuleDestroy(): void {
    for (const providerId of this.registered.keys()) passport.unuse(this.prefix + providerId);
    this.registered.clear();
  }

  private async register(provider: LoginProvider): Promise<RegisteredStrategy> {
    const endpoints = await this.metadata.endpointsOf(provider);
    const name = this.prefix + provider.id;
    const store = new LoginStateStore(provider.id, this.attempts);
    const login = this.login;
    const egress = this.egress;
    const oidc = provider.protocol === 'oidc';

    class ProviderStrategy extends PassportStrategy(baseStrategyOf(provider), name, 6) {
      constructor() {
        super({
          authorizationURL: endpoints.authorizationUrl,
          tokenURL: endpoints.tokenUrl,
          clientID: provider.clientId,
          clientSecret: provider.clientSecret,
          callbackURL: login.redirectUri(provider),
          scope: provider.scopes,
          pkce: true,
          store,
          passReqToCallback: true,
          skipUserProfile: oidc,
          // passport-github2 sends this User-Agent (GitHub's API requires one); others ignore it.
          userAgent: 'sovren-auth',
        });
        routeThroughEgress((this as unknown as { _oauth2: object })._oauth2, egress, provider.name);
      }

      /** The provider's own parameters, plus the nonce of this login for OIDC. */
      override authorizationParams(options: { state?: LoginRequestState }): object {
        const params = super.authorizationParams(options) as Record<string, string>;
        if (oidc && options.state?.nonce) params['nonce'] = options.state.nonce;
        return params;
      }

      /**
       * Only called for GitHub and plain OAuth 2.0 (OIDC identities come from the id_token). passport-github2's own
       * profile reader keeps the primary address without asking whether GitHub verified it, so ours reads
       * /user and /user/emails itself.
       */
      override userProfile(accessToken: string, done: (error: unknown, profile?: ProviderProfile) => void): void {
        const profile =
          provider.protocol === 'github'
            ? login.githubProfile(provider, accessToken)
            : login.userInfoProfile(provider, accessToken);
        profile.then(
          (found) => done(null, found),
          (error: unknown) => done(error),
        );
      }

      async validate(
        req: IncomingMessage,
        accessToken: string,
        _refreshToken: string | undefined,
        params: Record<string, unknown>,
        profile: ProviderProfile | undefined,
      ): Promise<unknown> {
        const attempt = verifiedAttemptOf(req);
        if (!attempt) throw new LoginError(LoginErrorCode.STATE_INVALID, 'the login state was not verified');
        const identity = oidc
          ? await login.identityFromIdToken(provider, params['id_token'], attempt.nonce, accessToken)
          : profile;
        if (!identity) throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} gave no profile`);
        return login.completeLogin(provider, identity, attempt);
      }
    }

    new ProviderStrategy(); // registers itself with passport under `name`
    return { name, provider, store };
  }
}
