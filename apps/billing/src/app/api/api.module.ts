// Feature module: the /api/v1/billing HTTP API.
import { Module } from '@nestjs/common';

import { AccountsModule } from '../accounts/accounts.module';
import { PaymentsModule } from '../payments/payments.module';
import { UsageModule } from '../usage/usage.module';
import { BillingApiService } from './billing-api.service';
import { BillingAdminController, BillingController } from './billing.controller';

@Module({
  imports: [AccountsModule, PaymentsModule, UsageModule],
  controllers: [BillingController, BillingAdminController],
  providers: [BillingApiService],
})
export class ApiModule {}
