// The billing service: usage-metered billing through Kill Bill.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { AuthGuardModule } from '@sovren/auth-guard';
import { ServiceModule } from '@sovren/service';

import { AccountsModule } from './accounts/accounts.module';
import { ApiModule } from './api/api.module';
import { BillingConfigModule } from './billing-config/billing-config.module';
import { BillingMetricsModule } from './billing.metrics';
import { NotificationsModule } from './notifications/notifications.module';
import { PaymentsModule } from './payments/payments.module';
import { UsageModule } from './usage/usage.module';

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'billing', postgres: true, sqlite: [] }),
    AuthGuardModule.forRoot(),
    BillingConfigModule,
    BillingMetricsModule,
    AccountsModule,
    UsageModule,
    PaymentsModule,
    NotificationsModule,
    ApiModule,
  ],
})
export class BillingModule {}
