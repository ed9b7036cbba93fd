// Feature module: the Kill Bill push notification callback.
import { Module } from '@nestjs/common';

import { AccountsModule } from '../accounts/accounts.module';
import { PaymentsModule } from '../payments/payments.module';
import { KillBillNotificationsController } from './killbill-notifications.controller';
import { KillBillNotificationsService } from './killbill-notifications.service';

@Module({
  imports: [AccountsModule, PaymentsModule],
  controllers: [KillBillNotificationsController],
  providers: [KillBillNotificationsService],
  exports: [KillBillNotificationsService],
})
export class NotificationsModule {}
