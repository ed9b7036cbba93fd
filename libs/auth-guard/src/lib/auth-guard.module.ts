// AuthGuardModule.forRoot(): the global module giving every controller SovrenAuthGuard (use it through
// @AuthRoute). It needs the service's NatsClient (ServiceModule / MessagingModule), subscribes to `auth.revoked`
// to drop cached answers the moment a session or key is revoked, checks at start-up that every guarded route
// declares its scopes (AuthRouteAudit) and applies SOVREN_TRUSTED_PROXIES to the HTTP server.
import { DynamicModule, Injectable, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AUTH_REVOKED, AuthRevokedV1, NatsClient, parseAuthRevokedV1 } from '@sovren/messaging';

import { AUTH_GUARD_SETTINGS, loadAuthGuardSettings } from './auth-guard.env';
import { AUTH_GUARD_OPTIONS, AuthGuardOptions, DEFAULT_AUTH_GUARD_OPTIONS } from './auth-guard.options';
import { AuthRouteAudit } from './auth-route.audit';
import { SovrenAuthGuard } from './sovren-auth.guard';
import { TrustedProxySetup } from './trusted-proxies';
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
      imports: [DiscoveryModule],
      providers: [
        { provide: AUTH_GUARD_OPTIONS, useValue: resolved },
        // Read when the app is built (not when this module is imported), so tests can set the environment first.
        { provide: AUTH_GUARD_SETTINGS, useFactory: () => loadAuthGuardSettings() },
        { provide: ValidationCache, useFactory: () => new ValidationCache(resolved.cacheTtlMs) },
        SovrenAuthGuard,
        RevocationListener,
        AuthRouteAudit,
        TrustedProxySetup,
      ],
      exports: [SovrenAuthGuard, ValidationCache, AUTH_GUARD_OPTIONS, AUTH_GUARD_SETTINGS],
    };
  }
}
