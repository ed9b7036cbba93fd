// Feature module: usage events → PostgreSQL ledger → Kill Bill usage records, exactly once.
import { Module } from '@nestjs/common';

import { AccountsModule } from '../accounts/accounts.module';
import { UsageEventsConsumer } from './usage-events.consumer';
import { UsageLedgerRepository } from './usage-ledger.repository';

@Module({
  imports: [AccountsModule],
  providers: [UsageLedgerRepository, UsageEventsConsumer],
  exports: [UsageLedgerRepository],
})
export class UsageModule {}
