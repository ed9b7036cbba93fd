// Behind a reverse proxy every request comes from the proxy's address. With SOVREN_TRUSTED_PROXIES set, Express's
// `trust proxy` takes the client address from X-Forwarded-For — the rightmost hop that is not a trusted proxy —
// but only when the direct peer is one of them; anyone else's X-Forwarded-For is ignored. req.ip (and so
// requestClientIp, the guard's per-IP counting and auth's session records) then names the real client.
import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

import { AUTH_GUARD_SETTINGS, type AuthGuardSettings } from './auth-guard.env';

@Injectable()
export class TrustedProxySetup implements OnModuleInit {
  private readonly logger = new Logger('AuthGuardModule');

  constructor(
    @Inject(AUTH_GUARD_SETTINGS) private readonly settings: AuthGuardSettings,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const instance = this.adapterHost?.httpAdapter?.getInstance<{ set?: (name: string, value: unknown) => void }>();
    if (typeof instance?.set !== 'function') return;
    const proxies = this.settings.trustedProxies;
    instance.set('trust proxy', proxies.length > 0 ? proxies : false);
    if (proxies.length > 0) this.logger.log({ msg: 'client addresses taken from X-Forwarded-For', proxies });
  }
}
