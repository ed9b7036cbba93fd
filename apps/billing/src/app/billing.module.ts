// The billing service: usage-metered billing through Kill Bill.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { ServiceModule } from '@sovren/service';

@Module({
  imports: [ServiceModule.forRoot({ service: 'billing', postgres: true, sqlite: [] })],
})
export class BillingModule {}
