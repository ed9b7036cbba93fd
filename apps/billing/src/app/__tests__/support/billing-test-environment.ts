// Test support: everything the billing service talks to, for real — a throwaway PostgreSQL database, a private
// nats-server with JetStream, and the strict Kill Bill stand-in with the repository's catalog uploaded — plus the
// environment a billing process or in-process app runs with.
import { Logger } from '@nestjs/common';
import { createThrowawayDatabase, freePort, NatsTestServer } from '@sovren/testing';
import { EgressClient } from '@sovren/egress';
import { testPlatformConfig } from '@sovren/config/testing';
import { KillBillClient } from '@sovren/killbill';
import { KillBillStandIn } from '@sovren/killbill/testing';
import { MetricsService } from '@sovren/observability';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

export const WORKSPACE_ROOT = resolve(__dirname, '../../../../../..');
export const CATALOG_PATH = join(WORKSPACE_ROOT, 'deploy/killbill/catalog.xml');
export const NOTIFICATION_TOKEN = 'test-notification-token-0123456789abcdef';

export interface BillingTestEnvironment {
  nats: NatsTestServer;
  killbill: KillBillStandIn;
  databaseUrl: string;
  root: string;
  billingPort: number;
  env: Record<string, string>;
  /** Runs SQL against the test database. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  dispose(): Promise<void>;
}

export async function createBillingTestEnvironment(
  extraEnv: Record<string, string> = {},
): Promise<BillingTestEnvironment> {
  // The observer client logs through Nest's static logger in this process; keep test output to real problems.
  Logger.overrideLogger(['error']);
  const database = await createThrowawayDatabase({ label: 'billing' });
  const databaseUrl = database.url;
  const nats = await NatsTestServer.start({ jetstream: true });
  const killbill = await KillBillStandIn.start();
  const root = mkdtempSync(join(tmpdir(), 'sovren-billing-test-'));
  const billingPort = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    SOVREN_LOG_LEVEL: 'warn',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: databaseUrl,
    SOVREN_NATS_URL: nats.url,
    SOVREN_BILLING_PORT: String(billingPort),
    SOVREN_SHUTDOWN_TIMEOUT_MS: '5000',
    SOVREN_EGRESS_ALLOWLIST: killbill.hostPort,
    SOVREN_KILLBILL_URL: killbill.url,
    SOVREN_KILLBILL_API_KEY: killbill.apiKey,
    SOVREN_KILLBILL_API_SECRET: killbill.apiSecret,
    SOVREN_KILLBILL_USERNAME: killbill.username,
    SOVREN_KILLBILL_PASSWORD: killbill.password,
    SOVREN_KILLBILL_TIMEOUT_MS: '2000',
    SOVREN_BILLING_USAGE_WINDOW_MS: '200',
    SOVREN_BILLING_NOTIFICATION_TOKEN: NOTIFICATION_TOKEN,
    // Absolute: Nx runs the tests from apps/billing, where the default relative path does not resolve.
    SOVREN_BILLING_CATALOG_PATH: CATALOG_PATH,
    ...extraEnv,
  };
  await uploadCatalog(env);
  const pool = new Client({ connectionString: databaseUrl });
  await pool.connect();
  return {
    nats,
    killbill,
    databaseUrl,
    root,
    billingPort,
    env,
    query: async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[],
    dispose: async () => {
      await pool.end();
      await killbill.stop();
      await nats.dispose();
      rmSync(root, { recursive: true, force: true });
      await database.drop();
    },
  };
}

/** A Kill Bill client as the tests' own observer (its own egress client and metrics registry). */
export function observerClient(env: Record<string, string>): KillBillClient {
  const config = testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: env['SOVREN_EGRESS_ALLOWLIST'] });
  return new KillBillClient(new EgressClient(config, new MetricsService('billing-test')), {
    baseUrl: env['SOVREN_KILLBILL_URL'],
    apiKey: env['SOVREN_KILLBILL_API_KEY'],
    apiSecret: env['SOVREN_KILLBILL_API_SECRET'],
    username: env['SOVREN_KILLBILL_USERNAME'],
    password: env['SOVREN_KILLBILL_PASSWORD'],
    createdBy: 'billing-tests',
    maxAttempts: 1,
  });
}

async function uploadCatalog(env: Record<string, string>): Promise<void> {
  await observerClient(env).uploadCatalogXml(readFileSync(CATALOG_PATH, 'utf8'), { reason: 'test set-up' });
}
