// Test support: the real billing app in this process behind the real auth app, which answers auth.validate on
// the billing environment's NATS server: an ordinary user with an API key created through auth's HTTP API, and
// an admin with a session. Apps never import each other, so auth's own test support is loaded by path at run time.
import type { INestApplication } from '@nestjs/common';
import { join } from 'node:path';

import { startBillingApp, type RunningBilling } from './billing-test-app';
import { createBillingTestEnvironment, WORKSPACE_ROOT, type BillingTestEnvironment } from './billing-test-environment';

interface RunningApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

interface AuthSupport {
  createAuthTestEnvironment(
    extraEnv?: Record<string, string>,
  ): Promise<{ env: Record<string, string>; dispose(): Promise<void> }>;
  startApp(moduleClass: unknown, env: Record<string, string>): Promise<RunningApp>;
}

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: { success: boolean; data?: T; error?: { code: string; message: string; details?: unknown } };
}

export type HttpCall = <T = unknown>(
  url: string,
  options?: { method?: string; headers?: Record<string, string>; body?: unknown },
) => Promise<HttpAnswer<T>>;

type Token<T> = abstract new (...args: never[]) => T;
type Users = { create(fields: { email: string | null; displayName: string; role?: 'user' | 'admin' }): { id: string } };
type Sessions = { create(userId: string, options: { deviceId: string }): { accessToken: string } };

async function fromAuth<T>(relativePath: string): Promise<T> {
  return (await import(join(WORKSPACE_ROOT, 'apps/auth/src/app', relativePath))) as T;
}

export interface BillingWithAuth {
  environment: BillingTestEnvironment;
  billing: RunningBilling;
  auth: RunningApp;
  /** An ordinary user (a billing owner) and its API key. */
  userId: string;
  apiKey: string;
  /** A second ordinary user, never billed before the tests make it so. */
  otherUserId: string;
  otherApiKey: string;
  /** A session token of an admin. */
  adminToken: string;
  /** Auth's test HTTP client: status, headers and the parsed envelope. */
  call: HttpCall;
  dispose(): Promise<void>;
}

export async function startBillingWithAuth(): Promise<BillingWithAuth> {
  const environment = await createBillingTestEnvironment();
  const support = await fromAuth<AuthSupport>('__tests__/support/auth-test-app');
  // Auth's data (SQLite root, its own PostgreSQL database) stays its own; only NATS is shared with billing.
  const authEnvironment = await support.createAuthTestEnvironment({ SOVREN_NATS_URL: environment.nats.url });
  const auth = await support.startApp(
    (await fromAuth<{ AuthModule: unknown }>('auth.module')).AuthModule,
    authEnvironment.env,
  );
  const { UsersRepository } = await fromAuth<{ UsersRepository: Token<Users> }>('users/users.repository');
  const { SessionService } = await fromAuth<{ SessionService: Token<Sessions> }>('sessions/session.service');
  const users = auth.app.get(UsersRepository);
  const sessions = auth.app.get(SessionService);
  const apiKeyOf = async (userId: string): Promise<string> => {
    const session = sessions.create(userId, { deviceId: 'billing-tests' });
    const created = await fetch(`${auth.url}/api/v1/auth/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'billing tests', scopes: ['inference:generate'] }),
    });
    const body = (await created.json()) as { data?: { key: string } };
    if (created.status !== 201 || !body.data)
      throw new Error(`creating an API key failed: ${created.status} ${JSON.stringify(body)}`);
    return body.data.key;
  };
  const user = users.create({ email: 'payer@example.com', displayName: 'Payer' });
  const other = users.create({ email: 'other@example.com', displayName: 'Other' });
  const admin = users.create({ email: 'ops@example.com', displayName: 'Operator', role: 'admin' });
  const billing = await startBillingApp(environment.env);
  const { call } = await fromAuth<{ call: HttpCall }>('__tests__/support/http-client');
  return {
    call,
    environment,
    billing,
    auth,
    userId: user.id,
    apiKey: await apiKeyOf(user.id),
    otherUserId: other.id,
    otherApiKey: await apiKeyOf(other.id),
    adminToken: sessions.create(admin.id, { deviceId: 'billing-tests' }).accessToken,
    dispose: async () => {
      await billing.close();
      await auth.close();
      await authEnvironment.dispose();
      await environment.dispose();
    },
  };
}
