// Feature module: identity — provider logins, users, sessions, API keys, rate limits, security notices and the
// auth.validate responder.
import { Module } from '@nestjs/common';

import { ApiKeyService } from './api-keys/api-key.service';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { SlidingWindowRateLimiter } from './rate-limit/sliding-window.rate-limiter';
import { RevocationPublisher } from './revocation/revocation.publisher';
import { SessionService } from './sessions/session.service';
import { SessionsController } from './sessions/sessions.controller';
import { AuthDatabases } from './storage/auth-databases';
import { IdTokenVerifier } from './login/id-token.verifier';
import { LoginAttemptsRepository } from './login/login-attempts.repository';
import { LoginController } from './login/login.controller';
import { OAuthLoginService } from './login/oauth-login.service';
import { LoginCallbackGuard } from './login/passport/login-callback.guard';
import { LoginStrategies } from './login/passport/login-strategies';
import { ProviderMetadataService } from './login/provider-metadata.service';
import { SecurityNotices } from './notifications/security-notices.service';
import { UsersRepository } from './users/users.repository';
import { AuthValidateResponder } from './validation/auth-validate.responder';
import { AuthValidationService } from './validation/auth-validation.service';
import { CredentialLookupCache } from './validation/credential-lookup.cache';

@Module({
  controllers: [SessionsController, ApiKeysController, LoginController],
  providers: [
    ProviderMetadataService,
    IdTokenVerifier,
    LoginAttemptsRepository,
    OAuthLoginService,
    LoginStrategies,
    LoginCallbackGuard,
    SecurityNotices,
    AuthDatabases,
    UsersRepository,
    RevocationPublisher,
    SessionService,
    ApiKeyService,
    SlidingWindowRateLimiter,
    { provide: CredentialLookupCache, useFactory: () => new CredentialLookupCache() },
    AuthValidationService,
    AuthValidateResponder,
  ],
  exports: [
    AuthDatabases,
    UsersRepository,
    SessionService,
    ApiKeyService,
    SlidingWindowRateLimiter,
    RevocationPublisher,
    SecurityNotices,
  ],
})
export class IdentityModule {}
