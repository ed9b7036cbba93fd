// The authorization-code flow with state + PKCE (S256), and for OIDC providers a nonce and full id_token
// validation, for every configured provider. The code exchange and every profile call go through EgressClient:
// passport's OAuth strategies make their own HTTP requests, which would bypass the egress allowlist, so the
// flow is implemented here instead (see README, "Auth").
import { Inject, Injectable, Logger } from '@nestjs/common';
import { EgressClient } from '@sovren/egress';
import { MetricsService } from '@sovren/observability';
import { createHash, randomBytes } from 'node:crypto';
import type { Counter } from 'prom-client';

import { LOGIN_PROVIDERS_CONFIG } from '../auth-config/login-config.token';
import type { LoginProvider, LoginProvidersConfig } from '../auth-config/login-providers.config';
import { UsersRepository } from '../users/users.repository';
import { IdTokenVerifier } from './id-token.verifier';
import { LoginAttemptsRepository } from './login-attempts.repository';
import { LoginError, LoginErrorCode } from './login.errors';
import { ProviderMetadataService } from './provider-metadata.service';

export interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
  error_description?: string;
}

export interface ProviderProfile {
  subject: string;
  /** Only when the provider says it verified the address. */
  email: string | null;
  displayName: string;
}

export interface LoginResult {
  userId: string;
  provider: string;
  newUser: boolean;
  linked: boolean;
  returnTo: string;
}

const random = (bytes = 32): string => randomBytes(bytes).toString('base64url');

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
    private readonly attempts: LoginAttemptsRepository,
    private readonly users: UsersRepository,
    private readonly egress: EgressClient,
    metrics: MetricsService,
  ) {
    this.logins = metrics.counter({
      name: 'sovren_auth_logins_total',
      help: 'Provider logins by provider and result (success, or the refusal reason).',
      labelNames: ['provider', 'result'],
    });
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

  /** Starts a login: stores state, PKCE verifier and nonce; returns the provider URL and the browser binding. */
  async start(providerId: string, options: { linkUserId?: string; returnTo?: string }): Promise<{ url: string; binding: string }> {
    const provider = this.provider(providerId);
    const endpoints = await this.metadata.endpointsOf(provider);
    const state = random();
    const binding = random();
    const codeVerifier = random(48);
    const nonce = random();
    this.attempts.save(state, binding, {
      provider: provider.id,
      codeVerifier,
      nonce,
      linkUserId: options.linkUserId ?? null,
      returnTo: safeReturnTo(options.returnTo),
    });
    const url = new URL(endpoints.authorizationUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', provider.clientId);
    url.searchParams.set('redirect_uri', this.redirectUri(provider));
    url.searchParams.set('scope', provider.scopes.join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', createHash('sha256').update(codeVerifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
    if (provider.protocol === 'oidc') url.searchParams.set('nonce', nonce);
    return { url: url.toString(), binding };
  }

  /** Finishes a login at the callback; throws LoginError (and counts it) on any refusal. */
  async finish(providerId: string, query: CallbackQuery, binding: string | undefined): Promise<LoginResult> {
    try {
      const result = await this.complete(providerId, query, binding);
      this.logins.inc({ provider: providerId, result: 'success' });
      return result;
    } catch (error) {
      const known = this.config.providers.some((p) => p.id === providerId) ? providerId : 'unknown';
      const reason = error instanceof LoginError ? error.code.toLowerCase() : 'internal_error';
      this.logins.inc({ provider: known, result: reason });
      this.logger.warn({ msg: 'login refused', provider: known, reason, detail: error instanceof Error ? error.message : String(error) });
      throw error;
    }
  }

  private async complete(providerId: string, query: CallbackQuery, binding: string | undefined): Promise<LoginResult> {
    const provider = this.provider(providerId);
    if (!query.state) throw new LoginError(LoginErrorCode.STATE_MISSING, 'the callback has no state: the login cannot be trusted');
    const consumed = this.attempts.consume(query.state, provider.id, binding);
    if (!consumed.ok) throw new LoginError(LoginErrorCode.STATE_INVALID, `the login state was refused: ${consumed.why}`);
    const attempt = consumed.attempt;
    if (query.error) {
      throw new LoginError(
        LoginErrorCode.CONSENT_DENIED,
        `${provider.name} did not grant the login (${query.error}${query.error_description ? `: ${query.error_description}` : ''})`,
      );
    }
    if (!query.code) throw new LoginError(LoginErrorCode.CODE_MISSING, 'the callback has no authorization code');
    const tokens = await this.exchangeCode(provider, query.code, attempt.codeVerifier);
    const profile = await this.profileOf(provider, tokens, attempt.nonce);
    return { ...this.resolveUser(provider, profile, attempt.linkUserId), returnTo: attempt.returnTo };
  }

  private async exchangeCode(provider: LoginProvider, code: string, codeVerifier: string): Promise<Record<string, unknown>> {
    const { tokenUrl } = await this.metadata.endpointsOf(provider);
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri(provider),
      client_id: provider.clientId,
      client_secret: provider.clientSecret,
      code_verifier: codeVerifier,
    });
    let response;
    try {
      response = await this.egress.request(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        timeoutMs: 10_000,
      });
    } catch (error) {
      throw new LoginError(
        LoginErrorCode.PROVIDER_UNREACHABLE,
        `could not reach ${provider.name} to exchange the code: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    let body: Record<string, unknown>;
    try {
      body = response.json<Record<string, unknown>>();
    } catch {
      throw new LoginError(LoginErrorCode.CODE_EXCHANGE_FAILED, `${provider.name} answered the code exchange with invalid JSON`);
    }
    // GitHub answers errors with 200 and an `error` field; others use 400.
    if (!response.ok || typeof body['error'] === 'string') {
      const described = typeof body['error_description'] === 'string' ? body['error_description'] : String(body['error'] ?? response.status);
      throw new LoginError(LoginErrorCode.CODE_EXCHANGE_FAILED, `${provider.name} refused the code exchange: ${described}`);
    }
    return body;
  }

  private async profileOf(provider: LoginProvider, tokens: Record<string, unknown>, nonce: string): Promise<ProviderProfile> {
    switch (provider.protocol) {
      case 'oidc': {
        const idToken = tokens['id_token'];
        if (typeof idToken !== 'string') throw new LoginError(LoginErrorCode.ID_TOKEN_INVALID, `${provider.name} returned no id_token`);
        const claims = await this.idTokens.verify(provider, idToken, nonce);
        const email = claims['email_verified'] === true && typeof claims['email'] === 'string' ? claims['email'].toLowerCase() : null;
        const name = typeof claims['name'] === 'string' && claims['name'] !== '' ? claims['name'] : (email ?? provider.name);
        return { subject: claims.sub as string, email, displayName: name.slice(0, 200) };
      }
      case 'github':
        return this.githubProfile(provider, this.accessTokenOf(provider, tokens));
      case 'oauth2': {
        const info = await this.userInfo(provider, this.accessTokenOf(provider, tokens));
        const subject = typeof info['sub'] === 'string' ? info['sub'] : typeof info['id'] === 'number' || typeof info['id'] === 'string' ? String(info['id']) : '';
        if (subject === '') throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} user info has no sub or id`);
        const email = info['email_verified'] === true && typeof info['email'] === 'string' ? info['email'].toLowerCase() : null;
        const name = typeof info['name'] === 'string' && info['name'] !== '' ? info['name'] : (email ?? provider.name);
        return { subject, email, displayName: name.slice(0, 200) };
      }
    }
  }

  private accessTokenOf(provider: LoginProvider, tokens: Record<string, unknown>): string {
    const token = tokens['access_token'];
    if (typeof token !== 'string' || token === '') {
      throw new LoginError(LoginErrorCode.CODE_EXCHANGE_FAILED, `${provider.name} returned no access_token`);
    }
    return token;
  }

  private async userInfo(provider: LoginProvider, accessToken: string): Promise<Record<string, unknown>> {
    const { userInfoUrl } = await this.metadata.endpointsOf(provider);
    if (!userInfoUrl) throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} has no user-info endpoint`);
    const info = await this.metadata.getJson(provider, userInfoUrl, 'user info', { authorization: `Bearer ${accessToken}` });
    if (typeof info !== 'object' || info === null) throw new LoginError(LoginErrorCode.PROFILE_INVALID, `${provider.name} user info is not an object`);
    return info as Record<string, unknown>;
  }

  /** GitHub's documented endpoints: GET /user (id, login, name) and GET /user/emails (primary + verified). */
  private async githubProfile(provider: LoginProvider, accessToken: string): Promise<ProviderProfile> {
    const headers = { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'user-agent': 'sovren-auth' };
    const user = (await this.metadata.getJson(provider, `${provider.userInfoUrl}/user`, 'user', headers)) as Record<string, unknown>;
    const id = user['id'];
    if (typeof id !== 'number' && typeof id !== 'string') throw new LoginError(LoginErrorCode.PROFILE_INVALID, 'GitHub /user has no id');
    const emails = await this.metadata.getJson(provider, `${provider.userInfoUrl}/user/emails`, 'emails', headers);
    const primary = Array.isArray(emails)
      ? (emails as Array<Record<string, unknown>>).find((entry) => entry['primary'] === true && entry['verified'] === true)
      : undefined;
    const email = typeof primary?.['email'] === 'string' ? primary['email'].toLowerCase() : null;
    const name = typeof user['name'] === 'string' && user['name'] !== '' ? user['name'] : typeof user['login'] === 'string' ? user['login'] : 'GitHub user';
    return { subject: String(id), email, displayName: name.slice(0, 200) };
  }

  private resolveUser(provider: LoginProvider, profile: ProviderProfile, linkUserId: string | null): Omit<LoginResult, 'returnTo'> {
    const owner = this.users.userOfIdentity(provider.id, profile.subject);
    if (linkUserId !== null) {
      if (owner !== undefined && owner !== linkUserId) {
        throw new LoginError(LoginErrorCode.IDENTITY_LINKED_ELSEWHERE, `this ${provider.name} account is already linked to another user`);
      }
      if (!this.users.findById(linkUserId)) throw new LoginError(LoginErrorCode.STATE_INVALID, 'the signed-in user no longer exists');
      this.users.linkIdentity(linkUserId, provider.id, profile.subject, profile.email);
      return { userId: linkUserId, provider: provider.id, newUser: false, linked: owner === undefined };
    }
    if (owner !== undefined) {
      this.users.linkIdentity(owner, provider.id, profile.subject, profile.email);
      return { userId: owner, provider: provider.id, newUser: false, linked: false };
    }
    const role = profile.email !== null && this.config.adminEmails.has(profile.email) ? 'admin' : 'user';
    const user = this.users.createForIdentity({ email: profile.email, displayName: profile.displayName, role });
    this.users.linkIdentity(user.id, provider.id, profile.subject, profile.email);
    return { userId: user.id, provider: provider.id, newUser: true, linked: true };
  }
}
