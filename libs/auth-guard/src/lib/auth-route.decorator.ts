// @AuthRoute({...}) on a controller or handler: puts SovrenAuthGuard in front of it and says what it needs.
import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { AUTH_ROUTE_OPTIONS, type AuthRouteOptions } from './auth-guard.options';
import { SovrenAuthGuard } from './sovren-auth.guard';

export function AuthRoute(options: AuthRouteOptions): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(AUTH_ROUTE_OPTIONS, options), UseGuards(SovrenAuthGuard));
}
