// What a provider login means to us, whichever passport strategy ran it (passport/login-strategies.ts): the
// configured providers, the identity a provider vouched for (a validated id_token for OIDC, GitHub's documented
// /user + /user/emails, a custom server's user-info endpoint — each read through EgressClient), the user that
// identity belongs to (found or created; linked to the signed-in user only when the session asked for it through
// the explicit link request), and the login counter.
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { errorMessage } from '@sovren/resilience';

import { LOGIN_PROVIDERS_CONFIG } from '../auth-config/login-config.token';
import type { LoginProvider, LoginProvidersConfig } from '../auth-config/login-providers.config';
import { AuthMetrics } from '../auth.metrics';
import { UsersRepository } from '../users/users.repository';
import { IdTokenVerifier } from './id-token.verifier';
import type { LoginAttempt } from './login-attempts.repository';
import { LoginError, LoginErrorCode } from './login.errors';
import { ProviderMetadataService } from './provider-metadata.service';

export interface ProviderProfile {
  subject: string;
  /** Only when the provider says it verified the address. */
  email: string | null;
  displayName: string;
}

export interface LoginResult {
  userId: string;
  provider: string;
  /** `link`: the signed-in user asked to add this identity (no new session is opened). */
  mode: 'login' | 'link';
  newUser: boolean;
  /** The identity was not linked to this user before (a new user, or a link request that added it). */
  linked: boolean;
  /** The identity's verified email, if the provider gave one (named in the link notice). */
  identityEmail: string | null;
  returnTo: string;
}

/**
 * The id_token's claims with the gaps filled from UserInfo: the id_token wins where it has a claim; an email and
 * its verification travel together (a verification is only taken for the same address).
 */
function withUserInfo(claims: Record<string, unknown>, info: Record<string, unknown>): Record<string, unknown> {
  const merged = { ...claims };
  if (typeof claims['email'] !== 'string') {
    merged['email'] = info['email'];
    merged['email_verified'] = info['email_verified'];
  } else if (typeof claims['email_verified'] !== 'boolean' && info['email'] === claims['email']) {
    merged['email_verified'] = info['email_verified'];
  }
  if (typeof claims['name'] !== 'string') merged['name'] = info['name'];
  return merged;
}

/** Only same-site relative paths: an open redirect after login would hand the session page to anyone. */
export function safeReturnTo(value: string | undefined): string {
  if (typeof value !== 'string' || !/^\/(?![/\\])[\x21-\x7e]{0,500}$/.test(value)) return '/';
  return value;
}

@Injectable()
export class OAuthLoginService {
  private readonly logger = new Logger(OAuthLoginService.name);
  private readonly logins: Counter<'provider' | 'result'>;

  constructor(
    @Inject(LOGIN_PROVIDERS_CONFIG) private readonly config: LoginProvidersConfig,
    private readonly metadata: ProviderMetadataService,
    private readonly idTokens: IdTokenVerifier,
    private readonly users: UsersRepository,
    metrics: AuthMetrics,
  ) {
    this.logins = metrics.logins;
  }

  providers(): LoginProvider[] {
    return this.config.providers;
  }

  provider(id: string): LoginProvider {
    const found = this.config.providers.find((provider) => provider.id === id);
    if (!found) throw new LoginError(LoginErrorCode.UNKNOWN_PROVIDER, `no login provider "${id}" is configured`);
    return found;
  }

  redirectUri(provider: LoginProvider): string {
    return `${this.config.publicUrl}/api/v1/auth/callback/${provider.id}`;
  }

  /** Counts a finished callback: success, or the refusal's reason (and logs the refusal with its detail). */
  recordOutcome(providerId: string, error?: unknown): void {
    const known = this.config.providers.some((p) => p.id === providerId) ? providerId : 'unknown';
    if (error === undefined) {
      this.logins.inc({ provider: known, result: 'success' });
      return;
    }
    const reason = error instanceof LoginError ? error.code.toLowerCase() : 'internal_error';
    this.logins.inc({ provider: known, result: reason });
    this.logger.warn({
      msg: 'login refused',
      provider: known,
      reason,
      detail: errorMessage(error),
    });
  }

  /**
   * An OIDC identity: the id_token is validated in full (signature, iss, aud, exp, nonce) before it is read. A
   * provider may return the profile claims (email, email_verified, name) only from its UserInfo endpoint when it
   * issues an access token (OIDC Core 5.4): when the id_token lacks them and the provider has one, UserInfo is
   * read with the access token, and used only if its `sub` is the id_token's (OIDC Core 5.3.2).
   */
  async identityFromIdToken(
    provider: LoginProvider,
    idToken: unknown,
    nonce: string,
    accessToken: string,
  ): Promise<ProviderProfile> {
    if (typeof idToken !== 'string')
      throw new LoginError(LoginErrorCode.ID_TOKEN_INVALID, `${provider.name} returned no id_token`);
    const claims: Record<string, unknown> = await this.idTokens.verify(provider, idToken, nonce);
    const lacksProfile =
      typeof claims['email'] !== 'string' ||
      typeof claims['email_verified'] !== 'boolean' ||
      typeof claims['name'] !== 'string';
    const { userInfoUrl } = await this.metadata.endpointsOf(provider);
    const merged =
      lacksProfile && userInfoUrl && accessToken !== ''
        ? withUserInfo(claims, await this.userInfoOf(provider, accessToken, claims['sub'] as string))
        : claims;
    const email =
      merged['email_verified'] === true && typeof merged['email'] === 'string' ? merged['email'].toLowerCase() : null;
    const name =
      typeof merged['name'] === 'string' && merged['name'] !== '' ? merged['name'] : (email ?? provider.name);
    return { subject: claims['sub'] as string, email, displayName: name.slice(0, 200) };
  }

  /** The UserInfo claims, refused unless they are about the id_token's subject. */
  private async userInfoOf(
    provider: LoginProvider,
    accessToken: string,
    subject: string,
  ): Promise<Record<string, unknown>> {
    const info = await this.userInfo(provider, accessToken);
    if (info['sub'] !== subject) {
      throw new LoginError(
        LoginErrorCode.PROFILE_INVALID,
        `${provider.name} user info is about another subject than the id_token`,
      );
    }
    return info;
  }

  /** A plain OAuth 2.0 server's identity from its user-info endpoint (`sub` or `id`). */
  async userInfoProfile(provider: LoginProvider, accessToken: string): Promise<ProviderProfile> {
    const info = await this.userInfo(provider, accessToken);
    const subject =
      typeof info['sub'] === 'string'
        ? info['sub']
        : typeof info['id'] === 'number' || typeof info['id'] === 'string'
          ? String(info['id'])
          : '';
    if (subject === '')
      throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} user info has no sub or id`);
    const email =
      info['email_verified'] === true && typeof info['email'] === 'string' ? info['email'].toLowerCase() : null;
    const name = typeof info['name'] === 'string' && info['name'] !== '' ? info['name'] : (email ?? provider.name);
    return { subject, email, displayName: name.slice(0, 200) };
  }

  /** The user this verified identity belongs to: found or created for a login, linked for a link request. */
  completeLogin(provider: LoginProvider, profile: ProviderProfile, attempt: LoginAttempt): LoginResult {
    const resolved =
      attempt.linkUserId !== null
        ? this.linkToUser(provider, profile, attempt.linkUserId)
        : this.resolveUser(provider, profile);
    return { ...resolved, identityEmail: profile.email, returnTo: attempt.returnTo };
  }

  private async userInfo(provider: LoginProvider, accessToken: string): Promise<Record<string, unknown>> {
    const { userInfoUrl } = await this.metadata.endpointsOf(provider);
    if (!userInfoUrl)
      throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} has no user-info endpoint`);
    const info = await this.metadata.getJson(provider, userInfoUrl, 'user info', {
      authorization: `Bearer ${accessToken}`,
    });
    if (typeof info !== 'object' || info === null)
      throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} user info is not an object`);
    return info as Record<string, unknown>;
  }

  /** GitHub's documented endpoints: GET /user (id, login, name) and GET /user/emails (primary + verified). */
  async githubProfile(provider: LoginProvider, accessToken: string): Promise<ProviderProfile> {
    const headers = {
      authorization: `Bearer ${accessToken}`,
      accept: 'application/vnd.github+json',
      'user-agent': 'sovren-auth',
    };
    const user = (await this.metadata.getJson(provider, `${provider.userInfoUrl}/user`, 'user', headers)) as Record<
      string,
      unknown
    >;
    const id = user['id'];
    if (typeof id !== 'number' && typeof id !== 'string')
      throw new LoginError(LoginErrorCode.PROFILE_INVALID, 'GitHub /user has no id');
    const emails = await this.metadata.getJson(provider, `${provider.userInfoUrl}/user/emails`, 'emails', headers);
    const primary = Array.isArray(emails)
      ? (emails as Array<Record<string, unknown>>).find(
          (entry) => entry['primary'] === true && entry['verified'] === true,
        )
      : undefined;
    const email = typeof primary?.['email'] === 'string' ? primary['email'].toLowerCase() : null;
    const name =
      typeof user['name'] === 'string' && user['name'] !== ''
        ? user['name']
        : typeof user['login'] === 'string'
          ? user['login']
          : 'GitHub user';
    return { subject: String(id), email, displayName: name.slice(0, 200) };
  }

  /** A login: the identity's own user, or a new one. Never another user's account, whoever is signed in. */
  private resolveUser(
    provider: LoginProvider,
    profile: ProviderProfile,
  ): Omit<LoginResult, 'returnTo' | 'identityEmail'> {
    const owner = this.users.userOfIdentity(provider.id, profile.subject);
    if (owner !== undefined) {
      this.users.linkIdentity(owner, provider.id, profile.subject, profile.email);
      return { userId: owner, provider: provider.id, mode: 'login', newUser: false, linked: false };
    }
    const role = profile.email !== null && this.config.adminEmails.has(profile.email) ? 'admin' : 'user';
    const user = this.users.createForIdentity({ email: profile.email, displayName: profile.displayName, role });
    this.users.linkIdentity(user.id, provider.id, profile.subject, profile.email);
    return { userId: user.id, provider: provider.id, mode: 'login', newUser: true, linked: true };
  }

  /** An explicit link request of a signed-in user: the identity joins that user, unless another user has it. */
  private linkToUser(
    provider: LoginProvider,
    profile: ProviderProfile,
    userId: string,
  ): Omit<LoginResult, 'returnTo' | 'identityEmail'> {
    const owner = this.users.userOfIdentity(provider.id, profile.subject);
    if (owner !== undefined && owner !== userId) {
      throw new LoginError(
        LoginErrorCode.IDENTITY_LINKED_ELSEWHERE,
        `this ${provider.name} account is already linked to another user`,
      );
    }
    if (!this.users.findById(userId))
      throw new LoginError(LoginErrorCode.STATE_INVALID, 'the signed-in user no longer exists');
    this.users.linkIdentity(userId, provider.id, profile.subject, profile.email);
    return { userId, provider: provider.id, mode: 'link', newUser: false, linked: owner === undefined };
  }
}
