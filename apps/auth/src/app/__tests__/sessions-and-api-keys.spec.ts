// Specification of local sessions and API keys, through the real auth app (HTTP + auth.validate on NATS +
// SQLite files), with sessions opened by SessionService as a finished login would.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
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

describe('auth sessions and API keys', () => {
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

  function newUser(role: 'user' | 'admin' = 'user') {
    return users.create({
      email: `${Math.random().toString(36).slice(2)}@example.test`,
      displayName: 'Test User',
      role,
    });
  }

  function signIn(userId: string, now?: number) {
    return sessions.create(userId, { deviceId: `device-${userId}`, userAgent: 'jest', ip: '127.0.0.1' }, now);
  }

  const api = (path: string) => `${auth.url}/api/v1/auth${path}`;

  it('issues opaque 256-bit tokens and stores only their SHA-256 hashes', () => {
    const user = newUser();
    const issued = signIn(user.id);
    expect(issued.accessToken).toMatch(/^sat_[A-Za-z0-9_-]{43}$/);
    expect(issued.refreshToken).toMatch(/^srt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(issued.accessToken.slice(4), 'base64url')).toHaveLength(32);
    const db = new Database(join(environment.root, 'data', 'api_auth.db'), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT token_hash FROM session_tokens WHERE session_id = ?')
        .all(issued.sessionId) as Array<{ token_hash: string }>;
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
      const dump =
        JSON.stringify(db.prepare('SELECT * FROM session_tokens').all()) +
        JSON.stringify(db.prepare('SELECT * FROM sessions').all());
      expect(dump).not.toContain(issued.accessToken.slice(4));
      expect(dump).not.toContain(issued.refreshToken.slice(4));
    } finally {
      db.close();
    }
  });

  it('accepts the access token as a bearer token and as the session cookie', async () => {
    const user = newUser();
    const issued = signIn(user.id);
    const viaBearer = await call<{ user: { id: string } }>(api('/me'), { headers: bearer(issued.accessToken) });
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.body.data?.user.id).toBe(user.id);
    expect(viaBearer.headers.get('x-ratelimit-limit')).toBe('1000');
    const viaCookie = await call(api('/me'), { headers: { cookie: `sovren_access=${issued.accessToken}` } });
    expect(viaCookie.status).toBe(200);
  });

  it('answers 401 with the error envelope without a credential or with an unknown one', async () => {
    const none = await call(api('/me'));
    expect(none.status).toBe(401);
    expect(none.body.success).toBe(false);
    expect(none.body.error?.code).toBe('UNAUTHORIZED');
    const unknown = await call(api('/me'), { headers: bearer(`sat_${'A'.repeat(43)}`) });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error?.details).toEqual({ reason: 'unknown' });
  });

  it('refuses an expired access token', async () => {
    const user = newUser();
    const issued = signIn(user.id, Date.now() - config.accessTtlMs - 1_000);
    const answer = await call(api('/me'), { headers: bearer(issued.accessToken) });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.details).toEqual({ reason: 'expired' });
  });

  it('refuses an expired refresh token and no longer lists an expired session', async () => {
    const user = newUser();
    const old = signIn(user.id, Date.now() - config.sessionMaxMs - 1_000);
    const answer = await call(api('/refresh'), { method: 'POST', body: { refresh_token: old.refreshToken } });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.message).toMatch(/expired/);
    const current = signIn(user.id);
    const listed = await call<Array<{ id: string }>>(api('/sessions'), { headers: bearer(current.accessToken) });
    expect(listed.body.data?.map((s) => s.id)).toEqual([current.sessionId]);
  });

  it('rotates the refresh token: the new pair works and the old refresh token cannot be used again', async () => {
    const user = newUser();
    const first = signIn(user.id);
    const rotated = await call<{ access_token: string; refresh_token: string; session_id: string }>(api('/refresh'), {
      method: 'POST',
      body: { refresh_token: first.refreshToken },
    });
    expect(rotated.status).toBe(200);
    const second = dataOf(rotated);
    expect(second.session_id).toBe(first.sessionId);
    expect(second.refresh_token).not.toBe(first.refreshToken);
    expect((await call(api('/me'), { headers: bearer(second.access_token) })).status).toBe(200);
  });

  it('revokes the whole family when a refresh token is reused after the grace window', async () => {
    const user = newUser();
    const first = signIn(user.id);
    // Rotated longer ago than the grace window (refresh-grace.spec.ts covers reuse within it).
    const rotated = sessions.refresh(first.refreshToken, Date.now() - config.refreshGraceMs - 1_000);
    const second = { access_token: rotated.accessToken, refresh_token: rotated.refreshToken };
    const reuse = await call(api('/refresh'), { method: 'POST', body: { refresh_token: first.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error?.message).toMatch(/already used/);
    expect(sessions.isLive(first.sessionId)).toBe(false);
    // Every token of the family is dead, including the ones issued after the stolen one.
    expect((await call(api('/me'), { headers: bearer(second.access_token) })).status).toBe(401);
    expect(
      (await call(api('/refresh'), { method: 'POST', body: { refresh_token: second.refresh_token } })).status,
    ).toBe(401);
  });

  it('refreshes a browser session from its cookie and answers with HttpOnly, Secure, SameSite cookies', async () => {
    const user = newUser();
    const first = signIn(user.id);
    const answer = await call<Record<string, unknown>>(api('/refresh'), {
      method: 'POST',
      headers: { cookie: `sovren_refresh=${first.refreshToken}`, origin: auth.url },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.data).not.toHaveProperty('access_token');
    const access = answer.cookies.find((line) => line.startsWith('sovren_access='));
    const refresh = answer.cookies.find((line) => line.startsWith('sovren_refresh='));
    expect(access).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$/);
    expect(refresh).toMatch(/; Path=\/api\/v1\/auth; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$/);
    const newAccess = decodeURIComponent((access ?? '').split(';')[0].split('=')[1]);
    expect((await call(api('/me'), { headers: { cookie: `sovren_access=${newAccess}` } })).status).toBe(200);
  });

  it('refuses a refresh without a token, with a malformed token, and an access token used as a refresh token', async () => {
    expect((await call(api('/refresh'), { method: 'POST' })).status).toBe(401);
    expect((await call(api('/refresh'), { method: 'POST', body: { refresh_token: 'nonsense' } })).status).toBe(401);
    const issued = signIn(newUser().id);
    expect((await call(api('/refresh'), { method: 'POST', body: { refresh_token: issued.accessToken } })).status).toBe(
      401,
    );
    expect((await call(api('/me'), { headers: bearer(issued.refreshToken) })).status).toBe(401);
  });

  it('lists my live sessions, marks the current one, and logs out only that one', async () => {
    const user = newUser();
    const a = signIn(user.id);
    const b = signIn(user.id);
    const listed = await call<Array<{ id: string; current: boolean }>>(api('/sessions'), {
      headers: bearer(a.accessToken),
    });
    expect(listed.status).toBe(200);
    expect(
      dataOf(listed)
        .map((s) => s.id)
        .sort(),
    ).toEqual([a.sessionId, b.sessionId].sort());
    expect(dataOf(listed).find((s) => s.id === a.sessionId)?.current).toBe(true);
    const logout = await call(api('/logout'), { method: 'POST', headers: bearer(a.accessToken) });
    expect(logout.status).toBe(200);
    expect(logout.cookies.some((line) => line.startsWith('sovren_access=;') && line.includes('Max-Age=0'))).toBe(true);
    expect((await call(api('/me'), { headers: bearer(a.accessToken) })).status).toBe(401);
    expect((await call(api('/me'), { headers: bearer(b.accessToken) })).status).toBe(200);
  });

  it('logs out everywhere: every session of the user ends, other users keep theirs', async () => {
    const user = newUser();
    const other = signIn(newUser().id);
    const a = signIn(user.id);
    const b = signIn(user.id);
    const answer = await call<{ revoked: number }>(api('/logout-everywhere'), {
      method: 'POST',
      headers: bearer(b.accessToken),
    });
    expect(answer.body.data?.revoked).toBe(2);
    expect((await call(api('/me'), { headers: bearer(a.accessToken) })).status).toBe(401);
    expect((await call(api('/refresh'), { method: 'POST', body: { refresh_token: a.refreshToken } })).status).toBe(401);
    expect((await call(api('/me'), { headers: bearer(other.accessToken) })).status).toBe(200);
  });

  it("revokes one of my sessions by id and refuses to revoke another user's", async () => {
    const user = newUser();
    const a = signIn(user.id);
    const b = signIn(user.id);
    const stranger = signIn(newUser().id);
    expect(
      (await call(api(`/sessions/${b.sessionId}`), { method: 'DELETE', headers: bearer(a.accessToken) })).status,
    ).toBe(204);
    expect(sessions.isLive(b.sessionId)).toBe(false);
    const refused = await call(api(`/sessions/${stranger.sessionId}`), {
      method: 'DELETE',
      headers: bearer(a.accessToken),
    });
    expect(refused.status).toBe(404);
    expect(sessions.isLive(stranger.sessionId)).toBe(true);
  });

  describe('API keys', () => {
    it('shows a new key once, lists it by prefix only, and authenticates with it', async () => {
      const user = newUser();
      const session = signIn(user.id);
      const created = await call<{ id: string; key: string; prefix: string; scopes: string[]; tier: string }>(
        api('/api-keys'),
        {
          method: 'POST',
          headers: bearer(session.accessToken),
          body: { name: 'ci', scopes: ['inference:generate', 'auth:api_keys', 'auth:profile'] },
        },
      );
      expect(created.status).toBe(201);
      const key = dataOf(created);
      expect(key.key).toMatch(/^sov_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
      expect(key.key.startsWith(`${key.prefix}_`)).toBe(true);
      expect(key.tier).toBe('authenticated');
      const listed = await call<Array<Record<string, unknown>>>(api('/api-keys'), {
        headers: bearer(session.accessToken),
      });
      expect(listed.body.data).toHaveLength(1);
      expect(dataOf(listed)[0]).not.toHaveProperty('key');
      expect(JSON.stringify(listed.body)).not.toContain(key.key);
      const me = await call<{ identity: { kind: string; apiKeyId: string }; scopes: string[] }>(api('/me'), {
        headers: { 'x-api-key': key.key },
      });
      expect(me.status).toBe(200);
      expect(me.body.data?.identity).toMatchObject({ kind: 'api_key', apiKeyId: key.id });
      expect(me.body.data?.scopes).toEqual(['auth:api_keys', 'auth:profile', 'inference:generate']);
      const db = new Database(join(environment.root, 'data', 'api_auth.db'), { readonly: true });
      try {
        expect(JSON.stringify(db.prepare('SELECT * FROM api_keys').all())).not.toContain(key.key.slice(13));
        const stored = db.prepare('SELECT key_hash FROM api_keys WHERE id = ?').get(key.id) as { key_hash: string };
        expect(stored.key_hash).toBe(createHash('sha256').update(key.key).digest('hex'));
      } finally {
        db.close();
      }
    });

    it('refuses a key without the scope a route needs (403) and a revoked key (401)', async () => {
      const user = newUser();
      const session = signIn(user.id);
      const created = await call<{ id: string; key: string }>(api('/api-keys'), {
        method: 'POST',
        headers: bearer(session.accessToken),
        body: { name: 'narrow', scopes: ['inference:generate'] },
      });
      const key = dataOf(created);
      const forbidden = await call(api('/api-keys'), { headers: { 'x-api-key': key.key } });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.error?.details).toEqual({ missing_scopes: ['auth:api_keys'] });
      const revoked = await call<{ revoked_at: string }>(api(`/api-keys/${key.id}`), {
        method: 'DELETE',
        headers: bearer(session.accessToken),
      });
      expect(revoked.status).toBe(200);
      expect(revoked.body.data?.revoked_at).toEqual(expect.any(String));
      const refused = await call(api('/me'), { headers: { 'x-api-key': key.key } });
      expect(refused.status).toBe(401);
      expect(refused.body.error?.details).toEqual({ reason: 'revoked' });
    });

    it("lets an admin manage any user's keys and create premium keys; refuses both to a user", async () => {
      const owner = newUser();
      const ownerSession = signIn(owner.id);
      const admin = newUser('admin');
      const adminSession = signIn(admin.id);
      const intruder = signIn(newUser().id);

      const premiumByUser = await call(api('/api-keys'), {
        method: 'POST',
        headers: bearer(ownerSession.accessToken),
        body: { name: 'greedy', scopes: [], tier: 'premium' },
      });
      expect(premiumByUser.status).toBe(403);

      const premium = await call<{ id: string; key: string; user_id: string; tier: string }>(api('/api-keys'), {
        method: 'POST',
        headers: bearer(adminSession.accessToken),
        body: { name: 'paid', scopes: ['inference:generate'], tier: 'premium', user_id: owner.id },
      });
      expect(premium.status).toBe(201);
      expect(premium.body.data).toMatchObject({ user_id: owner.id, tier: 'premium' });
      const me = await call(api('/me'), { headers: { 'x-api-key': dataOf(premium).key } });
      expect(me.headers.get('x-ratelimit-limit')).toBe('10000');

      expect((await call(api(`/api-keys?user_id=${owner.id}`), { headers: bearer(intruder.accessToken) })).status).toBe(
        403,
      );
      expect(
        (
          await call(api(`/api-keys/${dataOf(premium).id}`), {
            method: 'DELETE',
            headers: bearer(intruder.accessToken),
          })
        ).status,
      ).toBe(404);
      const adminList = await call<Array<{ id: string }>>(api(`/api-keys?user_id=${owner.id}`), {
        headers: bearer(adminSession.accessToken),
      });
      expect(dataOf(adminList).map((k) => k.id)).toEqual([dataOf(premium).id]);
      const adminRevoke = await call(api(`/api-keys/${dataOf(premium).id}`), {
        method: 'DELETE',
        headers: bearer(adminSession.accessToken),
      });
      expect(adminRevoke.status).toBe(200);
    });

    describe('no key can mint a stronger key', () => {
      const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

      async function keyOf(token: string, body: Record<string, unknown>) {
        return call<{ id: string; key: string; scopes: string[]; tier: string; expires_at: string | null }>(
          api('/api-keys'),
          { method: 'POST', headers: bearer(token), body: { name: 'k', ...body } },
        );
      }

      it('gives a key created with a key at most its scopes and its expiry (inherited when not asked)', async () => {
        const session = signIn(newUser().id);
        const expiresAt = inAnHour();
        const parent = dataOf(
          await keyOf(session.accessToken, {
            scopes: ['auth:api_keys', 'inference:generate'],
            expires_at: expiresAt,
          }),
        );
        const wider = await keyOf(parent.key, { scopes: ['inference:generate', 'billing:write'] });
        expect(wider.status).toBe(403);
        expect(wider.body.error?.details).toEqual({ not_grantable: ['billing:write'] });
        const later = await keyOf(parent.key, {
          scopes: ['inference:generate'],
          expires_at: new Date(Date.now() + 7_200_000).toISOString(),
        });
        expect(later.status).toBe(403);
        expect(later.body.error?.message).toMatch(/outlives/);
        const child = await keyOf(parent.key, { scopes: ['inference:generate'] });
        expect(child.status).toBe(201);
        expect(dataOf(child).expires_at).toBe(expiresAt);
        expect(dataOf(child).scopes).toEqual(['inference:generate']);
      });

      it("lets only a session create keys for another user; an admin's key cannot, nor mint premium from authenticated", async () => {
        const admin = signIn(newUser('admin').id);
        const owner = newUser();
        const adminKey = dataOf(await keyOf(admin.accessToken, { scopes: ['auth:api_keys', 'inference:generate'] }));
        const forOther = await keyOf(adminKey.key, { scopes: ['inference:generate'], user_id: owner.id });
        expect(forOther.status).toBe(403);
        const premium = await keyOf(adminKey.key, { scopes: ['inference:generate'], tier: 'premium' });
        expect(premium.status).toBe(403);
        expect(premium.body.error?.message).toMatch(/key of the authenticated tier cannot create a premium key/);
        const bySession = await keyOf(admin.accessToken, { scopes: ['inference:generate'], user_id: owner.id });
        expect(bySession.status).toBe(201);
      });

      it("refuses scopes outside the catalogue (400) and admin scopes to a user's own key (403)", async () => {
        const session = signIn(newUser().id);
        const unknown = await keyOf(session.accessToken, { scopes: ['widgets:read'] });
        expect(unknown.status).toBe(400);
        expect(unknown.body.error?.details).toEqual({ unknown_scopes: ['widgets:read'] });
        const admin = await keyOf(session.accessToken, { scopes: ['inference:admin'] });
        expect(admin.status).toBe(403);
        const listed = await call<unknown[]>(api('/api-keys'), { headers: bearer(session.accessToken) });
        expect(listed.body.data).toEqual([]);
      });
    });

    it('refuses a bad request body with a 400 envelope and creates nothing', async () => {
      const user = newUser();
      const session = signIn(user.id);
      const bad = await call(api('/api-keys'), {
        method: 'POST',
        headers: bearer(session.accessToken),
        body: { scopes: ['Not A Scope'], tier: 'platinum' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error?.code).toBe('VALIDATION_FAILED');
      const listed = await call<unknown[]>(api('/api-keys'), { headers: bearer(session.accessToken) });
      expect(listed.body.data).toEqual([]);
    });
  });
});
