// The auth service's own environment variables (validated at start-up like the platform ones).
import { IsIntegerInRange, IsOneOf, ToInteger } from '@sovren/config';

export const COOKIE_SAME_SITE_VALUES = ['Strict', 'Lax', 'None'] as const;

export class AuthEnv {
  /** Lifetime of a session access token (short: refresh renews it). */
  @ToInteger()
  @IsIntegerInRange(60, 86_400)
  SOVREN_AUTH_ACCESS_TTL_SECONDS = 900;

  /** Lifetime of one refresh token; each refresh issues a new one. */
  @ToInteger()
  @IsIntegerInRange(300, 31_536_000)
  SOVREN_AUTH_REFRESH_TTL_SECONDS = 1_209_600;

  /**
   * How long a just-rotated refresh token, presented again, gets the same new pair instead of revoking the session
   * (two tabs refreshing at once). 0 turns the grace off: any second use is treated as theft.
   */
  @ToInteger()
  @IsIntegerInRange(0, 60)
  SOVREN_AUTH_REFRESH_GRACE_SECONDS = 10;

  /** Longest a session (a refresh-token family) lives, however often it is refreshed. */
  @ToInteger()
  @IsIntegerInRange(300, 31_536_000)
  SOVREN_AUTH_SESSION_MAX_SECONDS = 2_592_000;

  @ToInteger()
  @IsIntegerInRange(1, 10_000_000)
  SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR = 100;

  @ToInteger()
  @IsIntegerInRange(1, 10_000_000)
  SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR = 1_000;

  @ToInteger()
  @IsIntegerInRange(1, 10_000_000)
  SOVREN_AUTH_RATE_PREMIUM_PER_HOUR = 10_000;

  /** Active API keys one user may hold; creating one more answers 409 (revoke one first). */
  @ToInteger()
  @IsIntegerInRange(1, 10_000)
  SOVREN_AUTH_MAX_API_KEYS_PER_USER = 50;

  /** Login starts (GET /api/v1/auth/login/<provider>) one client address may make per hour; then 429. */
  @ToInteger()
  @IsIntegerInRange(1, 1_000_000)
  SOVREN_AUTH_LOGIN_STARTS_PER_HOUR = 120;

  /** Unfinished logins kept per client address (10 minutes each); a new one beyond replaces the oldest. */
  @ToInteger()
  @IsIntegerInRange(1, 10_000)
  SOVREN_AUTH_LOGIN_PENDING_PER_IP = 20;

  /** Unfinished logins kept in all; a login start beyond answers 503 until some finish or expire. */
  @ToInteger()
  @IsIntegerInRange(1, 10_000_000)
  SOVREN_AUTH_LOGIN_PENDING_MAX = 100_000;

  /** SameSite attribute of the session cookies (Lax lets a login redirect carry them back). */
  @IsOneOf(COOKIE_SAME_SITE_VALUES)
  SOVREN_AUTH_COOKIE_SAME_SITE = 'Lax';
}
