// Checked when the app starts: every route behind SovrenAuthGuard says what it needs — at least one scope from
// the catalogue, or `allowAnonymous` for a public route. A route that declares neither would be open to any valid
// credential (an inference-only key cancelling a subscription), so the app refuses to start, naming each one.
import { Injectable, OnModuleInit, type Type } from '@nestjs/common';
import { GUARDS_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';

import { AUTH_ROUTE_OPTIONS, type AuthRouteOptions } from './auth-guard.options';
import { authRouteProblems } from './auth-route.rules';
import { SovrenAuthGuard } from './sovren-auth.guard';

type Handler = (...args: unknown[]) => unknown;

/** Every problem of the guarded routes of `controller`, as `Controller.method: problem`. */
export function auditAuthRoutes(
  controller: Type,
  reflector = new Reflector(),
  scanner = new MetadataScanner(),
): string[] {
  const prototype = controller.prototype as Record<string, Handler>;
  const classGuards: unknown[] = Reflect.getMetadata(GUARDS_METADATA, controller) ?? [];
  const problems: string[] = [];
  for (const name of scanner.getAllMethodNames(prototype)) {
    const handler = prototype[name];
    if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
    const guards = [...classGuards, ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[]) ?? [])];
    if (!guards.includes(SovrenAuthGuard)) continue;
    const options = reflector.getAllAndOverride<AuthRouteOptions | undefined>(AUTH_ROUTE_OPTIONS, [
      handler,
      controller,
    ]);
    for (const problem of authRouteProblems(options)) problems.push(`${controller.name}.${name} ${problem}`);
  }
  return problems;
}

@Injectable()
export class AuthRouteAudit implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const problems = this.discovery
      .getControllers()
      .flatMap((wrapper) =>
        wrapper.metatype ? auditAuthRoutes(wrapper.metatype as Type, this.reflector, this.scanner) : [],
      );
    if (problems.length > 0) {
      throw new Error(
        `refusing to start: guarded routes without a valid access declaration:\n  ${problems.join('\n  ')}`,
      );
    }
  }
}
