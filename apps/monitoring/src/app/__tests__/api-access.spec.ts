// Who may call monitoring's HTTP API, as declared to the shared guard: the platform status is public (anonymous
// callers rate limited per IP), alert history is for admins only, and no route is left without the guard.
// The guard's behaviour against a real auth service is covered by apps/platform-e2e's monitoring spec; the status
// staying readable while auth is down by libs/auth-guard's auth-unavailable spec.
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { AUTH_ROUTE_OPTIONS, type AuthRouteOptions, SovrenAuthGuard } from '@sovren/auth-guard';

import { AlertsController } from '../alerts/alerts.controller';
import { StatusController } from '../status/status.controller';

type Handler = (...args: unknown[]) => unknown;

/** Every HTTP handler of a controller with the @AuthRoute options and guards that apply to it. */
function routesOf(controller: new (...args: never[]) => object) {
  const reflector = new Reflector();
  const prototype = controller.prototype as Record<string, Handler>;
  return Object.getOwnPropertyNames(prototype)
    .filter((name) => name !== 'constructor' && Reflect.getMetadata(METHOD_METADATA, prototype[name]) !== undefined)
    .map((name) => ({
      path: `${Reflect.getMetadata(PATH_METADATA, controller)}${Reflect.getMetadata(PATH_METADATA, prototype[name]) === '/' ? '' : `/${Reflect.getMetadata(PATH_METADATA, prototype[name])}`}`,
      options: reflector.getAllAndOverride<AuthRouteOptions | undefined>(AUTH_ROUTE_OPTIONS, [
        prototype[name],
        controller,
      ]),
      guards: [
        ...(Reflect.getMetadata(GUARDS_METADATA, controller) ?? []),
        ...(Reflect.getMetadata(GUARDS_METADATA, prototype[name]) ?? []),
      ],
    }));
}

describe('monitoring API access', () => {
  it('serves GET /api/v1/status to anonymous callers through the guard (rate limited as anonymous)', () => {
    const routes = routesOf(StatusController);
    expect(routes).toEqual([
      {
        path: 'api/v1/status',
        options: { routeClass: 'monitoring', allowAnonymous: true, anonymousWhenAuthUnavailable: true },
        guards: [SovrenAuthGuard],
      },
    ]);
  });

  it('requires the admin role and the monitoring:read scope for the alert history and every other alerts route', () => {
    const routes = routesOf(AlertsController);
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) {
      expect(route.guards).toContain(SovrenAuthGuard);
      expect(route.options).toEqual({ routeClass: 'monitoring', roles: ['admin'], scopes: ['monitoring:read'] });
    }
  });
});
