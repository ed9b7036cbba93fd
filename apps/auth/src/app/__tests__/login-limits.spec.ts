// Specification of the limits on login starts: each start stores an attempt and costs a provider redirect, so an
// address gets 429 after its hourly budget, keeps only a few unfinished logins, expired attempts are pruned, and
// beyond a cap on logins in progress in all a start answers 503 — the table cannot be grown without bound.
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { HttpAnswer } from '@sovren/testing';

import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';
import { freePort } from './support/private-nats.server';

jest.setTimeout(60_000);

const STARTS_PER_HOUR = 9;
const PENDING_PER_IP = 3;
const PENDING_MAX = 12;

describe('login start limits', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let starts = 0;

  beforeAll(async () => {
    const authPort = await freePort();
    const provider = 'http://127.0.0.1:9'; // never contacted: a login start only redirects to it
    environment = await createAuthTestEnvironment({
      SOVREN_AUTH_PUBLIC_URL: `http://127.0.0.1:${authPort}`,
      SOVREN_AUTH_GOOGLE_CLIENT_ID: 'google-client',
      SOVREN_AUTH_GOOGLE_CLIENT_SECRET: 'google-secret',
      SOVREN_AUTH_GOOGLE_ISSUER: provider,
      SOVREN_AUTH_GOOGLE_AUTHORIZATION_URL: `${provider}/authorize`,
      SOVREN_AUTH_GOOGLE_TOKEN_URL: `${provider}/token`,
      SOVREN_AUTH_GOOGLE_JWKS_URL: `${provider}/jwks`,
      SOVREN_AUTH_LOGIN_STARTS_PER_HOUR: String(STARTS_PER_HOUR),
      SOVREN_AUTH_LOGIN_PENDING_PER_IP: String(PENDING_PER_IP),
      SOVREN_AUTH_LOGIN_PENDING_MAX: String(PENDING_MAX),
    });
    auth = await startAuthApp(environment, authPort);
  });

  afterAll(async () => {
    await auth?.close();
    await environment?.dispose();
  });

  function withDb<T>(use: (db: Database.Database) => T): T {
    const db = new Database(join(environment.root, 'data', 'api_auth.db'));
    try {
      return use(db);
    } finally {
      db.close();
    }
  }

  /** GET /login/google; the state it sent the browser to the provider with, when it redirected. */
  async function startLogin(): Promise<{ status: number; state?: string; answer: HttpAnswer }> {
    starts += 1;
    const response = await fetch(`${auth.url}/api/v1/auth/login/google`, { redirect: 'manual' });
    const text = await response.text();
    const location = response.headers.get('location');
    return {
      status: response.status,
      state: location ? (new URL(location).searchParams.get('state') ?? undefined) : undefined,
      answer: {
        status: response.status,
        headers: response.headers,
        body: text === '' ? { success: response.ok } : (JSON.parse(text) as HttpAnswer['body']),
        cookies: [],
      },
    };
  }

  const hashOf = (state: string) => createHash('sha256').update(state).digest('hex');

  function insertAttempt(db: Database.Database, clientIp: string, expiresAt: number): string {
    const stateHash = hashOf(randomBytes(32).toString('base64url'));
    // Written as the migrated schema has it; client_ip is absent before the bounds migration.
    const columns = (db.prepare('PRAGMA table_info(login_attempts)').all() as Array<{ name: string }>).map(
      (c) => c.name,
    );
    const withIp = columns.includes('client_ip');
    db.prepare(
      `INSERT INTO login_attempts (state_hash, provider, binding_hash, code_verifier, nonce, return_to, created_at, expires_at${withIp ? ', client_ip' : ''})
       VALUES (?, 'google', ?, 'v', 'n', '/', ?, ?${withIp ? ', ?' : ''})`,
    ).run(...[stateHash, hashOf('b'), expiresAt - 600_000, expiresAt, ...(withIp ? [clientIp] : [])]);
    return stateHash;
  }

  it('keeps at most a few unfinished logins per address, dropping the oldest', async () => {
    const states: string[] = [];
    for (let i = 0; i < PENDING_PER_IP + 1; i++) {
      const started = await startLogin();
      expect(started.status).toBe(302);
      states.push(started.state as string);
    }
    const kept = withDb((db) =>
      (
        db.prepare('SELECT state_hash FROM login_attempts WHERE consumed_at IS NULL').all() as Array<{
          state_hash: string;
        }>
      ).map((row) => row.state_hash),
    );
    expect(kept.sort()).toEqual(states.slice(1).map(hashOf).sort());
  });

  it('prunes expired attempts when a login starts', async () => {
    const expired = withDb((db) => insertAttempt(db, '198.51.100.1', Date.now() - 1_000));
    expect((await startLogin()).status).toBe(302);
    const left = withDb((db) => db.prepare('SELECT 1 FROM login_attempts WHERE state_hash = ?').get(expired));
    expect(left).toBeUndefined();
  });

  it('answers 503 with Retry-After while the cap on logins in progress in all is reached', async () => {
    // Other addresses alone fill the cap (this address's own unfinished logins do not count toward filling it).
    const filler = withDb((db) =>
      Array.from({ length: PENDING_MAX }, (_, i) => insertAttempt(db, `203.0.113.${i}`, Date.now() + 600_000)),
    );
    const refused = await startLogin();
    expect(refused.status).toBe(503);
    expect(refused.answer.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(refused.answer.body.success).toBe(false);
    expect(refused.answer.body.error?.details).toMatchObject({ reason: 'TOO_MANY_LOGINS' });
    expect(refused.answer.headers.get('set-cookie')).toBeNull();
    withDb((db) => {
      for (const stateHash of filler) db.prepare('DELETE FROM login_attempts WHERE state_hash = ?').run(stateHash);
    });
    expect((await startLogin()).status).toBe(302);
  });

  it('answers 429 with Retry-After and the error envelope once an address has used its hourly login starts', async () => {
    while (starts < STARTS_PER_HOUR) expect((await startLogin()).status).toBe(302);
    const refused = await startLogin();
    expect(refused.status).toBe(429);
    expect(Number(refused.answer.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.answer.body.error?.code).toBe('RATE_LIMITED');
    expect(refused.answer.headers.get('location')).toBeNull();
  });
});
