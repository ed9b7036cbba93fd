// Test support: the real BillingModule in this process (HTTP on a free port), against a BillingTestEnvironment.
import { INestApplication, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { applyHttpPlatform } from '@sovren/http';

import { BillingModule } from '../../billing.module';

export interface RunningBilling {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

export async function startBillingApp(env: Record<string, string>): Promise<RunningBilling> {
  Object.assign(process.env, env);
  Logger.overrideLogger(['error']);
  const moduleRef = await Test.createTestingModule({ imports: [BillingModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  applyHttpPlatform(app);
  await app.listen(Number(env['SOVREN_BILLING_PORT']), '127.0.0.1');
  return { app, url: `http://127.0.0.1:${env['SOVREN_BILLING_PORT']}`, close: () => app.close() };
}
