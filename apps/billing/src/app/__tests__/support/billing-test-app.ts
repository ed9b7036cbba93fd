// Test support: the real BillingModule in this process (HTTP on the environment's port), against a
// BillingTestEnvironment.
import { Logger } from '@nestjs/common';
import { startNestApp, type RunningNestApp } from '@sovren/testing';

import { BillingModule } from '../../billing.module';

export type RunningBilling = RunningNestApp;

export async function startBillingApp(env: Record<string, string>): Promise<RunningBilling> {
  Logger.overrideLogger(['error']);
  return startNestApp(BillingModule, { env, port: Number(env['SOVREN_BILLING_PORT']) });
}
