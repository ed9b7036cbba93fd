// Options of AuthGuardModule.forRoot (and their defaults), and the per-route options @AuthRoute stores.
import type { AuthRole } from '@sovren/messaging';

export const AUTH_GUARD_OPTIONS = Symbol('AUTH_GUARD_OPTIONS');

export interface AuthGuardOptions {
  /** How long a positive answer is reused (ms). Default 3000. */
  cacheTtlMs?: number;
  /** auth.validate timeout (ms). Default 2000. */
  timeoutMs?: number;
  /** Route class sent when a route has no @AuthRoute (a guard applied with @UseGuards alone). */
  defaultRouteClass?: string;
}

export const DEFAULT_AUTH_GUARD_OPTIONS: Required<AuthGuardOptions> = {
  cacheTtlMs: 3_000,
  timeoutMs: 2_000,
  defaultRouteClass: 'default',
};

export const AUTH_ROUTE_OPTIONS = 'sovren:auth-route';

export interface AuthRouteOptions {
  /** Label sent to auth.validate (`inference`, `billing`…), for logs and metrics. */
  routeClass: string;
  /** Let requests without a credential through (still rate limited, per IP). Default false. */
  allowAnonymous?: boolean;
  /**
   * With allowAnonymous: when auth cannot be asked, still serve requests that carry no credential, unlimited,
   * instead of failing closed with 503 — for pages that must work while auth is down (the platform status).
   * Requests with a credential are still refused with 503. Default false.
   */
  anonymousWhenAuthUnavailable?: boolean;
  /** Every one of these scopes is required (a session holds `*`). */
  scopes?: string[];
  /** One of these roles is required. */
  roles?: AuthRole[];
}
