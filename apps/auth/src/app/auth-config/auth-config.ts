// AuthConfig: the validated auth settings, injected by class. Built once from the environment at start-up.
import { loadEnvConfig } from '@sovren/config';

import { AuthEnv, COOKIE_SAME_SITE_VALUES } from './auth.env';

export type CookieSameSite = (typeof COOKIE_SAME_SITE_VALUES)[number];

export class AuthConfig {
  readonly accessTtlMs: number;
  readonly refreshTtlMs: number;
  readonly sessionMaxMs: number;
  readonly refreshGraceMs: number;
  readonly ratePerHour: { anonymous: number; authenticated: number; premium: number };
  readonly cookieSameSite: CookieSameSite;
  /** Active (unrevoked, unexpired) API keys one user may hold. */
  readonly maxApiKeysPerUser: number;
  /** Login starts per client address per hour, and the caps on unfinished logins (per address, in all). */
  readonly login: { startsPerHour: number; pendingPerIp: number; pendingMax: number };

  constructor(env: AuthEnv) {
    this.accessTtlMs = env.SOVREN_AUTH_ACCESS_TTL_SECONDS * 1000;
    this.refreshTtlMs = env.SOVREN_AUTH_REFRESH_TTL_SECONDS * 1000;
    this.sessionMaxMs = env.SOVREN_AUTH_SESSION_MAX_SECONDS * 1000;
    this.refreshGraceMs = env.SOVREN_AUTH_REFRESH_GRACE_SECONDS * 1000;
    this.ratePerHour = {
      anonymous: env.SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR,
      authenticated: env.SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR,
      premium: env.SOVREN_AUTH_RATE_PREMIUM_PER_HOUR,
    };
    this.cookieSameSite = env.SOVREN_AUTH_COOKIE_SAME_SITE as CookieSameSite;
    this.maxApiKeysPerUser = env.SOVREN_AUTH_MAX_API_KEYS_PER_USER;
    this.login = {
      startsPerHour: env.SOVREN_AUTH_LOGIN_STARTS_PER_HOUR,
      pendingPerIp: env.SOVREN_AUTH_LOGIN_PENDING_PER_IP,
      pendingMax: env.SOVREN_AUTH_LOGIN_PENDING_MAX,
    };
  }
}

/** Throws ConfigValidationError naming every bad SOVREN_AUTH_* variable. */
export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return new AuthConfig(loadEnvConfig(AuthEnv, env));
}
