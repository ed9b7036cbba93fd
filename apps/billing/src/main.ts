// Entry point of the billing service process (systemd unit sovren-billing, or `npx nx serve billing`).
import 'reflect-metadata';
import { bootstrapService } from '@sovren/service';

import { BillingModule } from './app/billing.module';

bootstrapService(BillingModule, 'billing').catch((error: unknown) => {
  process.stderr.write(`billing: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
