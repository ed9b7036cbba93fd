// Who may call inference's HTTP API, as declared to the shared guard (read from the controllers' metadata, as the
// guard reads it): generation needs inference:generate; loading and unloading models needs the admin role and
// inference:admin, so an admin's key created for generation alone cannot load models.
import { GUARDS_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { auditAuthRoutes, AUTH_ROUTE_OPTIONS, type AuthRouteOptions, SovrenAuthGuard } from '@sovren/auth-guard';

import { ModelsController } from '../models/models.controller';
import { OpenAiController } from '../openai/openai.controller';

type Handler = (...args: unknown[]) => unknown;

function optionsOf(controller: new (...args: never[]) => object, method: string): AuthRouteOptions | undefined {
  const handler = (controller.prototype as Record<string, Handler>)[method];
  expect(Reflect.getMetadata(METHOD_METADATA, handler)).toBeDefined();
  expect(Reflect.getMetadata(GUARDS_METADATA, handler)).toContain(SovrenAuthGuard);
  return new Reflector().getAllAndOverride<AuthRouteOptions | undefined>(AUTH_ROUTE_OPTIONS, [handler, controller]);
}

describe('inference API access', () => {
  it('declares a scope on every guarded route (the start-up audit finds nothing)', () => {
    expect(auditAuthRoutes(ModelsController)).toEqual([]);
    expect(auditAuthRoutes(OpenAiController)).toEqual([]);
  });

  it('requires inference:generate to list models and generate', () => {
    for (const method of ['models', 'chat', 'completions']) {
      expect(optionsOf(OpenAiController, method)?.scopes).toEqual(['inference:generate']);
    }
    expect(optionsOf(ModelsController, 'metadata')?.scopes).toEqual(['inference:generate']);
  });

  it('requires the admin role and inference:admin to load or unload a model', () => {
    for (const method of ['load', 'unload']) {
      expect(optionsOf(ModelsController, method)).toMatchObject({ roles: ['admin'], scopes: ['inference:admin'] });
    }
  });
});
