// Feature module: usage events → PostgreSQL ledger (usage-events.consumer.ts) → Kill Bill usage records
// (usage-recorder.ts), exactly once.
import { Module } from '@nestjs/common';

import { AccountsModule } from '../accounts/accounts.module';
import { UsageEventsConsumer } from './usage-events.consumer';
import { UsageLedgerRepository } from './usage-ledger.repository';
import { UsageRecorder } from './usage-recorder';

@Module({
  imports: [AccountsModule],
  providers: [UsageLedgerRepository, UsageRecorder, UsageEventsConsumer],
  exports: [UsageLedgerRepository],
})
export class UsageModule {}
