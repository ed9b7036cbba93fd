// AuthGuardModule.forRoot(): the global module giving every controller SovrenAuthGuard (use it through
// @AuthRoute). It needs the service's NatsClient (ServiceModule / MessagingModule) and subscribes to
// `auth.revoked` to drop cached answers the moment a session or key is revoked.
import { DynamicModule, Injectable, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { AUTH_REVOKED, AuthRevokedV1, NatsClient, parseAuthRevokedV1 } from '@sovren/messaging';

import { AUTH_GUARD_OPTIONS, AuthGuardOptions, DEFAULT_AUTH_GUARD_OPTIONS } from './auth-guard.options';
import { SovrenAuthGuard } from './sovren-auth.guard';
import { ValidationCache } from './validation-cache';

@Injectable()
class RevocationListener implements OnApplicationBootstrap {
  private readonly logger = new Logger('AuthGuardModule');

  constructor(
    private readonly nats: NatsClient,
    private readonly cache: ValidationCache,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.subscribe<AuthRevokedV1>(
      AUTH_REVOKED,
      (event) => {
        const dropped = this.cache.revoke(event);
        if (dropped > 0)
          this.logger.log({ msg: 'dropped cached validations after revocation', kind: event.kind, dropped });
      },
      { parse: parseAuthRevokedV1 },
    );
  }
}

@Module({})
export class AuthGuardModule {
  static forRoot(options: AuthGuardOptions = {}): DynamicModule {
    const resolved: Required<AuthGuardOptions> = { ...DEFAULT_AUTH_GUARD_OPTIONS, ...options };
    return {
      module: AuthGuardModule,
      global: true,
      providers: [
        { provide: AUTH_GUARD_OPTIONS, useValue: resolved },
        { provide: ValidationCache, useFactory: () => new ValidationCache(resolved.cacheTtlMs) },
        SovrenAuthGuard,
        RevocationListener,
      ],
      exports: [SovrenAuthGuard, ValidationCache, AUTH_GUARD_OPTIONS],
    };
  }
}
