// The billing configuration, wired once for every billing feature: the validated BillingEnv (BILLING_ENV) and the
// Kill Bill client built from it.
import { Global, Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';
import { EgressClient } from '@sovren/egress';
import { KillBillClient } from '@sovren/killbill';
import { MetricsService } from '@sovren/observability';

import { BILLING_ENV, BillingEnv } from './billing.env';

@Global()
@Module({
  providers: [
    { provide: BILLING_ENV, useFactory: () => loadEnvConfig(BillingEnv) },
    {
      provide: KillBillClient,
      inject: [BILLING_ENV, EgressClient, MetricsService],
      useFactory: (env: BillingEnv, egress: EgressClient, metrics: MetricsService) =>
        new KillBillClient(
          egress,
          {
            baseUrl: env.SOVREN_KILLBILL_URL,
            apiKey: env.SOVREN_KILLBILL_API_KEY,
            apiSecret: env.SOVREN_KILLBILL_API_SECRET,
            username: env.SOVREN_KILLBILL_USERNAME,
            password: env.SOVREN_KILLBILL_PASSWORD,
            createdBy: env.SOVREN_KILLBILL_CREATED_BY,
            timeoutMs: env.SOVREN_KILLBILL_TIMEOUT_MS,
          },
          metrics,
        ),
    },
  ],
  exports: [BILLING_ENV, KillBillClient],
})
export class BillingConfigModule {}
