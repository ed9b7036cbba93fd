// Test support: the real auth app in this process (AuthModule, HTTP on a free port) against a throwaway
// PostgreSQL database, a temp SOVREN_ROOT (its SQLite files) and a private NATS server. Restartable on the
// same root, so tests can prove what survives a restart.
import { NatsClient } from '@sovren/messaging';
import { createThrowawayDatabase, startNestApp, type RunningNestApp } from '@sovren/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AuthModule } from '../../auth.module';
import { startPrivateNats, type PrivateNats } from './private-nats.server';

export interface AuthTestEnvironment {
  root: string;
  nats: PrivateNats;
  databaseUrl: string;
  /** Environment every app of the test (auth and the guarded "other app") runs with. */
  env: Record<string, string>;
  dispose(): Promise<void>;
}

export async function createAuthTestEnvironment(extraEnv: Record<string, string> = {}): Promise<AuthTestEnvironment> {
  const database = await createThrowawayDatabase({ label: 'auth' });
  const root = mkdtempSync(join(tmpdir(), 'sovren-auth-test-'));
  const nats = await startPrivateNats();
  const env = {
    NODE_ENV: 'test',
    SOVREN_LOG_LEVEL: 'error',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: nats.url,
    // No mail leaves a test that does not start its own SMTP server (port 1 refuses at once).
    SOVREN_MAIL_HOST: '127.0.0.1',
    SOVREN_MAIL_PORT: '1',
    SOVREN_MAIL_ATTEMPTS: '1',
    ...extraEnv,
  };
  return {
    root,
    nats,
    databaseUrl: database.url,
    env,
    dispose: async () => {
      await nats.stop();
      rmSync(root, { recursive: true, force: true });
      await database.drop();
    },
  };
}

export type RunningApp = RunningNestApp;

/** Applies `env` to process.env (the config loaders read it) and starts a Nest app listening on 127.0.0.1. */
export function startApp(moduleClass: unknown, env: Record<string, string>, port = 0): Promise<RunningApp> {
  return startNestApp(moduleClass, {
    env,
    port,
    // Make sure the server has seen this connection's subscriptions before another connection relies on them.
    ready: (app) => app.get(NatsClient).rawConnection()?.flush(),
  });
}

/** `port`: a fixed port (login tests need it in SOVREN_AUTH_PUBLIC_URL before start); default any free one. */
export function startAuthApp(environment: AuthTestEnvironment, port = 0): Promise<RunningApp> {
  return startApp(AuthModule, environment.env, port);
}
