// Feature module: the owner ↔ Kill Bill account mapping, created lazily.
import { Module } from '@nestjs/common';

import { BillingPostgres } from '../billing-postgres';
import { BillingAccountsRepository } from './billing-accounts.repository';
import { BillingAccountsService } from './billing-accounts.service';
import { BillingStandingsResponder } from './billing-standings.responder';

@Module({
  providers: [BillingPostgres, BillingAccountsRepository, BillingAccountsService, BillingStandingsResponder],
  exports: [BillingPostgres, BillingAccountsRepository, BillingAccountsService],
})
export class AccountsModule {}
