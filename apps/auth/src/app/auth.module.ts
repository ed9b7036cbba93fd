// The auth service: identity: OAuth/OIDC login, local sessions, API keys, rate limits.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { AuthGuardModule } from '@sovren/auth-guard';
import { MailModule } from '@sovren/mail';
import { ServiceModule } from '@sovren/service';

import { AdminModule } from './admin/admin.module';
import { AuthConfigModule } from './auth-config/auth-config.module';
import { AuthMetricsModule } from './auth.metrics';
import { BillingTierModule } from './billing-tier/billing-tier.module';
import { IdentityModule } from './identity.module';
import { OrganizationsModule } from './organizations/organizations.module';

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'auth', postgres: true, sqlite: ['users', 'api_auth', 'applications'] }),
    AuthGuardModule.forRoot(),
    MailModule.forRoot(),
    AuthConfigModule,
    AuthMetricsModule,
    OrganizationsModule,
    IdentityModule,
    BillingTierModule,
    AdminModule,
  ],
})
export class AuthModule {}
