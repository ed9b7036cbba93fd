// Who may call billing's HTTP API, as declared to the shared guard (read from the controllers' metadata, as the
// guard reads it): reading needs billing:read, every change billing:write, the admin views the admin role and
// billing:admin — so a key made for inference alone can neither cancel a plan nor pay an invoice.
import { RequestMethod } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { auditAuthRoutes, AUTH_ROUTE_OPTIONS, type AuthRouteOptions, SovrenAuthGuard } from '@sovren/auth-guard';

import { BillingAdminController, BillingController } from '../api/billing.controller';

type Handler = (...args: unknown[]) => unknown;

function routesOf(controller: new (...args: never[]) => object) {
  const prototype = controller.prototype as Record<string, Handler>;
  return Object.getOwnPropertyNames(prototype)
    .filter((name) => name !== 'constructor' && Reflect.getMetadata(METHOD_METADATA, prototype[name]) !== undefined)
    .map((name) => ({
      name,
      path: String(Reflect.getMetadata(PATH_METADATA, prototype[name])),
      read: Reflect.getMetadata(METHOD_METADATA, prototype[name]) === RequestMethod.GET,
      guards: [
        ...(Reflect.getMetadata(GUARDS_METADATA, controller) ?? []),
        ...(Reflect.getMetadata(GUARDS_METADATA, prototype[name]) ?? []),
      ],
      options: new Reflector().getAllAndOverride<AuthRouteOptions | undefined>(AUTH_ROUTE_OPTIONS, [
        prototype[name],
        controller,
      ]),
    }));
}

describe('billing API access', () => {
  it('declares a scope on every guarded route (the start-up audit finds nothing)', () => {
    expect(auditAuthRoutes(BillingController)).toEqual([]);
    expect(auditAuthRoutes(BillingAdminController)).toEqual([]);
  });

  it("needs billing:read to read the owner's billing and billing:write for every change", () => {
    const routes = routesOf(BillingController);
    expect(routes.filter((route) => !route.read).map((route) => route.name)).toEqual(
      expect.arrayContaining(['changePlan', 'cancel', 'addPaymentMethod', 'setDefault', 'pay']),
    );
    for (const route of routes) {
      expect(route.guards).toContain(SovrenAuthGuard);
      expect(route.options?.scopes).toEqual([route.read ? 'billing:read' : 'billing:write']);
    }
  });

  it('needs the admin role and billing:admin for the admin views and the catalog upload', () => {
    for (const route of routesOf(BillingAdminController)) {
      expect(route.guards).toContain(SovrenAuthGuard);
      expect(route.options).toMatchObject({ roles: ['admin'], scopes: ['billing:admin'] });
    }
  });
});
