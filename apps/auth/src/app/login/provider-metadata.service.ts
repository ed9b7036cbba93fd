// What auth needs to know about an OIDC provider beyond its configuration: its discovery document (when only
// the issuer is configured) and its signing keys (JWKS). Both are fetched through EgressClient — the platform's
// only way out — and cached; the keys are fetched again when a token names a key id we do not have (rotation).
import { Injectable } from '@nestjs/common';
import { EgressClient } from '@sovren/egress';
import type { JSONWebKeySet } from 'jose';
import { errorMessage } from '@sovren/resilience';

import type { LoginProvider } from '../auth-config/login-providers.config';
import { LoginError, LoginErrorCode } from './login.errors';

export interface ProviderEndpoints {
  authorizationUrl: string;
  tokenUrl: string;
  jwksUrl?: string;
  userInfoUrl?: string;
  issuer?: string;
}

interface DiscoveryDocument {
  issuer?: unknown;
  authorization_endpoint?: unknown;
  token_endpoint?: unknown;
  jwks_uri?: unknown;
  userinfo_endpoint?: unknown;
}

/** Keys are refetched on an unknown key id, but not more often than this. */
const JWKS_REFRESH_MIN_MS = 30_000;

@Injectable()
export class ProviderMetadataService {
  private readonly endpoints = new Map<string, ProviderEndpoints>();
  private readonly keys = new Map<string, { jwks: JSONWebKeySet; fetchedAt: number }>();

  constructor(private readonly egress: EgressClient) {}

  async endpointsOf(provider: LoginProvider): Promise<ProviderEndpoints> {
    const cached = this.endpoints.get(provider.id);
    if (cached) return cached;
    let resolved: ProviderEndpoints;
    if (provider.authorizationUrl && provider.tokenUrl && (provider.protocol !== 'oidc' || provider.jwksUrl)) {
      resolved = {
        authorizationUrl: provider.authorizationUrl,
        tokenUrl: provider.tokenUrl,
        jwksUrl: provider.jwksUrl,
        userInfoUrl: provider.userInfoUrl,
        issuer: provider.issuer,
      };
    } else {
      resolved = await this.discover(provider);
    }
    this.endpoints.set(provider.id, resolved);
    return resolved;
  }

  /** The provider's key set; `refresh` asks for a new copy (a token named a key id we do not hold). */
  async jwksOf(provider: LoginProvider, refresh = false): Promise<JSONWebKeySet> {
    const cached = this.keys.get(provider.id);
    if (cached && (!refresh || Date.now() - cached.fetchedAt < JWKS_REFRESH_MIN_MS)) return cached.jwks;
    const { jwksUrl } = await this.endpointsOf(provider);
    if (!jwksUrl) throw new LoginError(LoginErrorCode.PROVIDER_UNREACHABLE, `${provider.name} has no jwks_uri`);
    const body = await this.getJson(provider, jwksUrl, 'signing keys');
    const keys = (body as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) {
      throw new LoginError(LoginErrorCode.PROVIDER_UNREACHABLE, `${provider.name} answered a key set without "keys"`);
    }
    const jwks = { keys } as JSONWebKeySet;
    this.keys.set(provider.id, { jwks, fetchedAt: Date.now() });
    return jwks;
  }

  async getJson(
    provider: LoginProvider,
    url: string,
    what: string,
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    let response;
    try {
      response = await this.egress.request(url, {
        headers: { accept: 'application/json', ...headers },
        timeoutMs: 10_000,
      });
    } catch (error) {
      throw new LoginError(
        LoginErrorCode.PROVIDER_UNREACHABLE,
        `could not fetch the ${what} of ${provider.name}: ${errorMessage(error)}`,
      );
    }
    if (!response.ok) {
      throw new LoginError(
        LoginErrorCode.PROVIDER_UNREACHABLE,
        `${provider.name} answered ${response.status} for its ${what}`,
      );
    }
    try {
      return response.json();
    } catch {
      throw new LoginError(
        LoginErrorCode.PROVIDER_UNREACHABLE,
        `${provider.name} answered its ${what} with invalid JSON`,
      );
    }
  }

  private async discover(provider: LoginProvider): Promise<ProviderEndpoints> {
    if (!provider.issuer) {
      throw new LoginError(LoginErrorCode.PROVIDER_UNREACHABLE, `${provider.name} has neither endpoints nor an issuer`);
    }
    const url = `${provider.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const doc = (await this.getJson(provider, url, 'discovery document')) as DiscoveryDocument;
    // OIDC Discovery §4.3: the document's issuer must be exactly the configured one.
    if (doc.issuer !== provider.issuer) {
      throw new LoginError(
        LoginErrorCode.PROVIDER_UNREACHABLE,
        `the discovery document of ${provider.name} names issuer ${String(doc.issuer)}, not ${provider.issuer}`,
      );
    }
    const pick = (configured: string | undefined, discovered: unknown, field: string): string => {
      const value = configured ?? discovered;
      if (typeof value !== 'string' || !URL.canParse(value)) {
        throw new LoginError(
          LoginErrorCode.PROVIDER_UNREACHABLE,
          `the discovery document of ${provider.name} lacks ${field}`,
        );
      }
      return value;
    };
    return {
      issuer: provider.issuer,
      authorizationUrl: pick(provider.authorizationUrl, doc.authorization_endpoint, 'authorization_endpoint'),
      tokenUrl: pick(provider.tokenUrl, doc.token_endpoint, 'token_endpoint'),
      jwksUrl: pick(provider.jwksUrl, doc.jwks_uri, 'jwks_uri'),
      userInfoUrl:
        provider.userInfoUrl ?? (typeof doc.userinfo_endpoint === 'string' ? doc.userinfo_endpoint : undefined),
    };
  }
}
