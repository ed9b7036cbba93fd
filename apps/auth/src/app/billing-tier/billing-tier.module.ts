// Feature module: auth applies billing's tier changes (billing.tier.changed) to the owner's API keys.
import { Module } from '@nestjs/common';

import { IdentityModule } from '../identity.module';
import { BillingTierSubscriber } from './billing-tier.subscriber';

@Module({
  imports: [IdentityModule],
  providers: [BillingTierSubscriber],
})
export class BillingTierModule {}
