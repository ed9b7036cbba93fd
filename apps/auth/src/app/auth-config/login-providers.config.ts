// The configured login providers, validated at start-up: Google, Microsoft and GitHub from their variables,
// plus every entry of SOVREN_AUTH_OIDC_PROVIDERS. A bad entry stops start-up with a message naming it.
import { ConfigProblem, ConfigValidationError, loadEnvConfig } from '@sovren/config';
import { errorMessage } from '@sovren/resilience';

import { LoginEnv } from './login.env';

export type ProviderProtocol = 'oidc' | 'github' | 'oauth2';

export interface LoginProvider {
  /** URL token: /api/v1/auth/login/<id>. */
  id: string;
  name: string;
  protocol: ProviderProtocol;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  /** OIDC: the expected `iss`; found by discovery when the endpoints are not given. */
  issuer?: string;
  /** Microsoft: `iss` depends on the user's tenant (`{tenantid}` replaced by the token's `tid`). */
  issuerTemplate?: string;
  /** Microsoft: when set, only this tenant's users may sign in. */
  requiredTenant?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  jwksUrl?: string;
  /** GitHub: API base (`/user`, `/user/emails`); custom OAuth 2.0: the user-info URL. */
  userInfoUrl?: string;
}

export interface LoginProvidersConfig {
  publicUrl: string;
  adminEmails: Set<string>;
  providers: LoginProvider[];
}

const PROVIDER_ID = /^[a-z][a-z0-9-]{0,63}$/;
const RESERVED_IDS = new Set(['google', 'microsoft', 'github']);
const MICROSOFT_MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const protocol = new URL(value).protocol;
  return protocol === 'http:' || protocol === 'https:';
}

export function loadLoginProvidersConfig(env: NodeJS.ProcessEnv = process.env): LoginProvidersConfig {
  const loaded = loadEnvConfig(LoginEnv, env);
  const problems: ConfigProblem[] = [];
  const providers: LoginProvider[] = [];

  const pair = (id: string, clientId?: string, secret?: string): boolean => {
    if (clientId && secret) return true;
    if (clientId || secret) {
      problems.push({
        variable: `SOVREN_AUTH_${id.toUpperCase()}_CLIENT_${clientId ? 'SECRET' : 'ID'}`,
        message: `must be set too when the other ${id} client variable is set (not set)`,
      });
    }
    return false;
  };

  if (pair('google', loaded.SOVREN_AUTH_GOOGLE_CLIENT_ID, loaded.SOVREN_AUTH_GOOGLE_CLIENT_SECRET)) {
    providers.push({
      id: 'google',
      name: 'Google',
      protocol: 'oidc',
      clientId: loaded.SOVREN_AUTH_GOOGLE_CLIENT_ID as string,
      clientSecret: loaded.SOVREN_AUTH_GOOGLE_CLIENT_SECRET as string,
      scopes: ['openid', 'email', 'profile'],
      issuer: loaded.SOVREN_AUTH_GOOGLE_ISSUER,
      authorizationUrl: loaded.SOVREN_AUTH_GOOGLE_AUTHORIZATION_URL,
      tokenUrl: loaded.SOVREN_AUTH_GOOGLE_TOKEN_URL,
      jwksUrl: loaded.SOVREN_AUTH_GOOGLE_JWKS_URL,
    });
  }
  if (pair('microsoft', loaded.SOVREN_AUTH_MICROSOFT_CLIENT_ID, loaded.SOVREN_AUTH_MICROSOFT_CLIENT_SECRET)) {
    const tenant = loaded.SOVREN_AUTH_MICROSOFT_TENANT;
    const withTenant = (template: string) => template.replace('{tenant}', encodeURIComponent(tenant));
    const urls = {
      SOVREN_AUTH_MICROSOFT_AUTHORIZATION_URL: withTenant(loaded.SOVREN_AUTH_MICROSOFT_AUTHORIZATION_URL),
      SOVREN_AUTH_MICROSOFT_TOKEN_URL: withTenant(loaded.SOVREN_AUTH_MICROSOFT_TOKEN_URL),
      SOVREN_AUTH_MICROSOFT_JWKS_URL: withTenant(loaded.SOVREN_AUTH_MICROSOFT_JWKS_URL),
    };
    for (const [variable, url] of Object.entries(urls)) {
      if (!isHttpUrl(url)) problems.push({ variable, message: 'must be an http(s) URL (with {tenant} where needed)' });
    }
    if (!loaded.SOVREN_AUTH_MICROSOFT_ISSUER_TEMPLATE.includes('{tenantid}')) {
      problems.push({ variable: 'SOVREN_AUTH_MICROSOFT_ISSUER_TEMPLATE', message: 'must contain {tenantid}' });
    }
    providers.push({
      id: 'microsoft',
      name: 'Microsoft',
      protocol: 'oidc',
      clientId: loaded.SOVREN_AUTH_MICROSOFT_CLIENT_ID as string,
      clientSecret: loaded.SOVREN_AUTH_MICROSOFT_CLIENT_SECRET as string,
      scopes: ['openid', 'email', 'profile'],
      issuerTemplate: loaded.SOVREN_AUTH_MICROSOFT_ISSUER_TEMPLATE,
      requiredTenant: MICROSOFT_MULTI_TENANT.has(tenant) ? undefined : tenant,
      authorizationUrl: urls.SOVREN_AUTH_MICROSOFT_AUTHORIZATION_URL,
      tokenUrl: urls.SOVREN_AUTH_MICROSOFT_TOKEN_URL,
      jwksUrl: urls.SOVREN_AUTH_MICROSOFT_JWKS_URL,
    });
  }
  if (pair('github', loaded.SOVREN_AUTH_GITHUB_CLIENT_ID, loaded.SOVREN_AUTH_GITHUB_CLIENT_SECRET)) {
    providers.push({
      id: 'github',
      name: 'GitHub',
      protocol: 'github',
      clientId: loaded.SOVREN_AUTH_GITHUB_CLIENT_ID as string,
      clientSecret: loaded.SOVREN_AUTH_GITHUB_CLIENT_SECRET as string,
      scopes: ['read:user', 'user:email'],
      authorizationUrl: loaded.SOVREN_AUTH_GITHUB_AUTHORIZATION_URL,
      tokenUrl: loaded.SOVREN_AUTH_GITHUB_TOKEN_URL,
      userInfoUrl: loaded.SOVREN_AUTH_GITHUB_API_URL.replace(/\/+$/, ''),
    });
  }
  if (loaded.SOVREN_AUTH_OIDC_PROVIDERS !== undefined) {
    providers.push(...parseCustomProviders(loaded.SOVREN_AUTH_OIDC_PROVIDERS, problems));
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return {
    publicUrl: loaded.SOVREN_AUTH_PUBLIC_URL.replace(/\/+$/, ''),
    adminEmails: new Set(
      loaded.SOVREN_AUTH_ADMIN_EMAILS.split(',')
        .map((email) => email.trim().toLowerCase())
        .filter((email) => email !== ''),
    ),
    providers,
  };
}

/**
 * Each entry: `{ "id", "name", "type": "oidc" | "oauth2", "client_id", "client_secret", "scopes"?,
 * "issuer"?, "authorization_endpoint"?, "token_endpoint"?, "jwks_uri"?, "userinfo_endpoint"? }`.
 * OIDC needs an issuer (endpoints then come from its discovery document unless given); OAuth 2.0 needs the
 * authorization, token and user-info endpoints.
 */
function parseCustomProviders(raw: string, problems: ConfigProblem[]): LoginProvider[] {
  const variable = 'SOVREN_AUTH_OIDC_PROVIDERS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    problems.push({
      variable,
      message: `must be a JSON array (${errorMessage(error)})`,
    });
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push({ variable, message: 'must be a JSON array of provider objects' });
    return [];
  }
  const seen = new Set<string>();
  const result: LoginProvider[] = [];
  parsed.forEach((entry: unknown, index) => {
    const where = `${variable}[${index}]`;
    const bad = (message: string) => problems.push({ variable: where, message });
    if (typeof entry !== 'object' || entry === null) return bad('must be an object');
    const e = entry as Record<string, unknown>;
    const id = e['id'];
    if (typeof id !== 'string' || !PROVIDER_ID.test(id) || RESERVED_IDS.has(id) || seen.has(id)) {
      return bad('id must be a unique lower-case token (a-z, 0-9, -) other than google, microsoft, github');
    }
    seen.add(id);
    const type = e['type'] ?? 'oidc';
    if (type !== 'oidc' && type !== 'oauth2') return bad('type must be "oidc" or "oauth2"');
    const clientId = e['client_id'];
    const clientSecret = e['client_secret'];
    if (typeof clientId !== 'string' || clientId === '' || typeof clientSecret !== 'string' || clientSecret === '') {
      return bad('client_id and client_secret must be non-empty strings');
    }
    const urls: Record<string, string | undefined> = {};
    for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
      const value = e[field];
      if (value === undefined) continue;
      if (!isHttpUrl(value)) return bad(`${field} must be an http(s) URL`);
      urls[field] = value;
    }
    const scopes = e['scopes'] ?? (type === 'oidc' ? ['openid', 'email', 'profile'] : []);
    if (!Array.isArray(scopes) || !scopes.every((scope) => typeof scope === 'string'))
      return bad('scopes must be an array of strings');
    if (type === 'oidc' && !urls['issuer']) return bad('an OIDC provider needs issuer');
    if (type === 'oauth2' && !(urls['authorization_endpoint'] && urls['token_endpoint'] && urls['userinfo_endpoint'])) {
      return bad('an OAuth 2.0 provider needs authorization_endpoint, token_endpoint and userinfo_endpoint');
    }
    const name = typeof e['name'] === 'string' && e['name'] !== '' ? e['name'] : id;
    result.push({
      id,
      name,
      protocol: type,
      clientId,
      clientSecret,
      scopes: type === 'oidc' && !scopes.includes('openid') ? ['openid', ...scopes] : scopes,
      issuer: urls['issuer'],
      authorizationUrl: urls['authorization_endpoint'],
      tokenUrl: urls['token_endpoint'],
      jwksUrl: urls['jwks_uri'],
      userInfoUrl: urls['userinfo_endpoint'],
    });
    return undefined;
  });
  return result;
}
