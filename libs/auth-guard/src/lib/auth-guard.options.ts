// Options of AuthGuardModule.forRoot (and their defaults), and the per-route options @AuthRoute stores.
import type { AuthRole } from '@sovren/messaging';

import type { Scope } from './scopes';

export const AUTH_GUARD_OPTIONS = Symbol('AUTH_GUARD_OPTIONS');

export interface AuthGuardOptions {
  /** How long a positive answer is reused (ms). Default 3000. */
  cacheTtlMs?: number;
  /** auth.validate timeout (ms). Default 2000. */
  timeoutMs?: number;
}

export const DEFAULT_AUTH_GUARD_OPTIONS: Required<AuthGuardOptions> = {
  cacheTtlMs: 3_000,
  timeoutMs: 2_000,
};

export const AUTH_ROUTE_OPTIONS = 'sovren:auth-route';

export interface AuthRouteOptions {
  /** Label sent to auth.validate (`inference`, `billing`…), for logs and metrics. */
  routeClass: string;
  /**
   * A public route: requests without a credential get through (still rate limited, per client IP). A route that
   * is not public must name at least one scope (checked when the app starts). Default false.
   */
  allowAnonymous?: boolean;
  /**
   * With allowAnonymous: when auth cannot be asked, still serve requests that carry no credential, unlimited,
   * instead of failing closed with 503 — for pages that must work while auth is down (the platform status).
   * Requests with a credential are still refused with 503. Default false.
   */
  anonymousWhenAuthUnavailable?: boolean;
  /**
   * With allowAnonymous: the route counts its own requests (auth's refresh counts against the refresh token's
   * user), so the guard does not ask auth.validate; it still applies the cross-site write check. Default false.
   */
  rateLimitedByRoute?: boolean;
  /** Every one of these scopes (from the catalogue, scopes.ts) is required; else 403 INSUFFICIENT_SCOPE. */
  scopes?: Scope[];
  /** One of these roles is required (checked before the scopes). */
  roles?: AuthRole[];
}
