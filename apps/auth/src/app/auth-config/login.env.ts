// Login provider variables. A provider is offered only when its client id and secret are set; its endpoints
// default to the real ones and are overridable (tests point them at local servers). Enterprise OIDC and custom
// OAuth 2.0 servers are a JSON array in SOVREN_AUTH_OIDC_PROVIDERS (see login-providers.config.ts).
import { IsOptional, Length } from 'class-validator';
import { IsUrlWithScheme, SecretVariable } from '@sovren/config';

const HTTP = ['http:', 'https:'] as const;

export class LoginEnv {
  /** Public base URL of auth as browsers reach it; redirect URIs are <this>/api/v1/auth/callback/<provider>. */
  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_PUBLIC_URL = 'http://127.0.0.1:3101';

  /** Comma-separated verified emails that get the admin role when their account is created. */
  @IsOptional()
  @Length(0, 4000)
  SOVREN_AUTH_ADMIN_EMAILS = '';

  @IsOptional()
  @Length(1, 512)
  SOVREN_AUTH_GOOGLE_CLIENT_ID?: string;

  @SecretVariable()
  @IsOptional()
  @Length(1, 512)
  SOVREN_AUTH_GOOGLE_CLIENT_SECRET?: string;

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GOOGLE_ISSUER = 'https://accounts.google.com';

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GOOGLE_AUTHORIZATION_URL = 'https://accounts.google.com/o/oauth2/v2/auth';

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

  @IsOptional()
  @Length(1, 512)
  SOVREN_AUTH_MICROSOFT_CLIENT_ID?: string;

  @SecretVariable()
  @IsOptional()
  @Length(1, 512)
  SOVREN_AUTH_MICROSOFT_CLIENT_SECRET?: string;

  /** `common`, `organizations`, `consumers` or one tenant id (then only that tenant's users may sign in). */
  @Length(1, 128)
  SOVREN_AUTH_MICROSOFT_TENANT = 'common';

  /** `{tenant}` is replaced by SOVREN_AUTH_MICROSOFT_TENANT. */
  @Length(1, 512)
  SOVREN_AUTH_MICROSOFT_AUTHORIZATION_URL = 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize';

  @Length(1, 512)
  SOVREN_AUTH_MICROSOFT_TOKEN_URL = 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token';

  @Length(1, 512)
  SOVREN_AUTH_MICROSOFT_JWKS_URL = 'https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys';

  /** The id_token issuer of a tenant; `{tenantid}` is replaced by the token's own `tid` claim. */
  @Length(1, 512)
  SOVREN_AUTH_MICROSOFT_ISSUER_TEMPLATE = 'https://login.microsoftonline.com/{tenantid}/v2.0';

  @IsOptional()
  @Length(1, 512)
  SOVREN_AUTH_GITHUB_CLIENT_ID?: string;

  @SecretVariable()
  @IsOptional()
  @Length(1, 512)
  SOVREN_AUTH_GITHUB_CLIENT_SECRET?: string;

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GITHUB_AUTHORIZATION_URL = 'https://github.com/login/oauth/authorize';

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GITHUB_TOKEN_URL = 'https://github.com/login/oauth/access_token';

  @IsUrlWithScheme(HTTP)
  SOVREN_AUTH_GITHUB_API_URL = 'https://api.github.com';

  /** JSON array of enterprise OIDC / custom OAuth 2.0 providers (holds client secrets). */
  @SecretVariable()
  @IsOptional()
  @Length(2, 100_000)
  SOVREN_AUTH_OIDC_PROVIDERS?: string;
}
