// The auth configuration, wired once for every auth feature: the validated AuthConfig (injected by class) and the
// login providers (LOGIN_PROVIDERS_CONFIG).
import { Global, Module } from '@nestjs/common';

import { AuthConfig, loadAuthConfig } from './auth-config';
import { LOGIN_PROVIDERS_CONFIG } from './login-config.token';
import { loadLoginProvidersConfig } from './login-providers.config';

@Global()
@Module({
  providers: [
    { provide: AuthConfig, useFactory: () => loadAuthConfig() },
    { provide: LOGIN_PROVIDERS_CONFIG, useFactory: () => loadLoginProvidersConfig() },
  ],
  exports: [AuthConfig, LOGIN_PROVIDERS_CONFIG],
})
export class AuthConfigModule {}
