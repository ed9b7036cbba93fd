// Feature module: payment methods, invoice payments with the fallback gateway, and the owner's standing.
import { Module } from '@nestjs/common';

import { AccountsModule } from '../accounts/accounts.module';
import { BillingStandingService } from './billing-standing.service';
import { PaymentAttemptsRepository } from './payment-attempts.repository';
import { PaymentsService } from './payments.service';

@Module({
  imports: [AccountsModule],
  providers: [PaymentsService, PaymentAttemptsRepository, BillingStandingService],
  exports: [PaymentsService, PaymentAttemptsRepository, BillingStandingService],
})
export class PaymentsModule {}
