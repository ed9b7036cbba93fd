// Specification of the refresh grace window: two tabs refreshing with the same refresh token at once both get
// the same new pair; the token coming back after the window is still theft and revokes the session. What makes
// the replay possible is kept only sealed under the old refresh token, and only for the window.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { bearer, call, dataOf } from '@sovren/testing';

import { AuthConfig } from '../auth-config/auth-config';
import { SessionService } from '../sessions/session.service';
import { UsersRepository } from '../users/users.repository';
import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';

jest.setTimeout(60_000);

interface RefreshAnswer {
  session_id: string;
  access_token: string;
  refresh_token: string;
}

describe('refresh grace window', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let sessions: SessionService;
  let users: UsersRepository;
  let config: AuthConfig;

  beforeAll(async () => {
    environment = await createAuthTestEnvironment({ SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '10000' });
    auth = await startAuthApp(environment);
    sessions = auth.app.get(SessionService);
    users = auth.app.get(UsersRepository);
    config = auth.app.get(AuthConfig);
  });

  afterAll(async () => {
    await auth?.close();
    await environment?.dispose();
  });

  function signIn() {
    const user = users.create({ email: `${Math.random().toString(36).slice(2)}@example.test`, displayName: 'Tab' });
    return sessions.create(user.id, { deviceId: `device-${user.id}` });
  }

  const refreshUrl = () => `${auth.url}/api/v1/auth/refresh`;

  function tokenRows(sessionId: string): Array<Record<string, unknown>> {
    const db = new Database(join(environment.root, 'data', 'api_auth.db'), { readonly: true });
    try {
      return db.prepare('SELECT * FROM session_tokens WHERE session_id = ?').all(sessionId) as Array<
        Record<string, unknown>
      >;
    } finally {
      db.close();
    }
  }

  it('is ten seconds unless configured otherwise', () => {
    expect(config.refreshGraceMs).toBe(10_000);
  });

  it('gives two tabs refreshing with the same token at once the same new pair, and the session stays live', async () => {
    const first = signIn();
    const [tabA, tabB] = await Promise.all(
      [0, 1].map(() =>
        call<RefreshAnswer>(refreshUrl(), { method: 'POST', body: { refresh_token: first.refreshToken } }),
      ),
    );
    expect([tabA.status, tabB.status]).toEqual([200, 200]);
    expect(dataOf(tabB).access_token).toBe(dataOf(tabA).access_token);
    expect(dataOf(tabB).refresh_token).toBe(dataOf(tabA).refresh_token);
    expect(sessions.isLive(first.sessionId)).toBe(true);
    // A third, later presentation inside the window still gets that pair, and the pair goes on working.
    const again = await call<RefreshAnswer>(refreshUrl(), {
      method: 'POST',
      body: { refresh_token: first.refreshToken },
    });
    expect(dataOf(again).refresh_token).toBe(dataOf(tabA).refresh_token);
    expect((await call(`${auth.url}/api/v1/auth/me`, { headers: bearer(dataOf(tabA).access_token) })).status).toBe(200);
    const next = await call(refreshUrl(), { method: 'POST', body: { refresh_token: dataOf(tabA).refresh_token } });
    expect(next.status).toBe(200);
  });

  it('answers a browser tab presenting the rotated cookie again with the same cookies', async () => {
    const first = signIn();
    const headers = { cookie: `sovren_refresh=${first.refreshToken}`, origin: auth.url };
    const one = await call(refreshUrl(), { method: 'POST', headers });
    const two = await call(refreshUrl(), { method: 'POST', headers });
    expect(two.status).toBe(200);
    const cookiesOf = (cookies: string[]) => cookies.map((line) => line.split(';')[0]).sort();
    expect(cookiesOf(two.cookies)).toEqual(cookiesOf(one.cookies));
  });

  it('still revokes the whole session when the rotated token comes back after the window', async () => {
    const first = signIn();
    const rotatedAt = Date.now() - config.refreshGraceMs - 1_000;
    const second = sessions.refresh(first.refreshToken, rotatedAt);
    const late = await call(refreshUrl(), { method: 'POST', body: { refresh_token: first.refreshToken } });
    expect(late.status).toBe(401);
    expect(late.body.error?.message).toMatch(/already used/);
    expect(sessions.isLive(first.sessionId)).toBe(false);
    expect((await call(`${auth.url}/api/v1/auth/me`, { headers: bearer(second.accessToken) })).status).toBe(401);
  });

  it('stores the new pair only sealed under the old refresh token, and drops it once the window has passed', () => {
    const first = signIn();
    const now = Date.now();
    const second = sessions.refresh(first.refreshToken, now);
    const dump = JSON.stringify(tokenRows(first.sessionId));
    for (const token of [second.accessToken, second.refreshToken, first.refreshToken])
      expect(dump).not.toContain(token.slice(4));
    const consumed = tokenRows(first.sessionId).find((row) => row['consumed_at'] !== null);
    expect(consumed?.['grace_until']).toBe(now + config.refreshGraceMs);
    expect(typeof consumed?.['successor_sealed']).toBe('string');

    // Any refresh after the window clears what the window kept.
    sessions.refresh(second.refreshToken, now + config.refreshGraceMs + 1);
    const kept = tokenRows(first.sessionId).filter((row) => row['successor_sealed'] !== null);
    expect(kept.map((row) => row['grace_until'])).toEqual([now + 2 * config.refreshGraceMs + 1]);
  });
});
