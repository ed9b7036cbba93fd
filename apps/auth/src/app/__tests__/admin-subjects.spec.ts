// Specification of the operator's admin subjects (auth.admin.*), through the real auth app on a private NATS:
// users and API keys without any OAuth provider, by auth's own services; bad input is refused and changes nothing.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  AUTH_ADMIN_KEYS_CREATE,
  AUTH_ADMIN_KEYS_LIST,
  AUTH_ADMIN_KEYS_REVOKE,
  AUTH_ADMIN_USERS_CREATE,
  AUTH_ADMIN_USERS_LIST,
  AUTH_ADMIN_USERS_PROMOTE,
  NatsClient,
  RemoteError,
  type AuthAdminKeysCreateReplyV1,
  type AuthAdminKeysListReplyV1,
  type AuthAdminUserReplyV1,
  type AuthAdminUsersListReplyV1,
} from '@sovren/messaging';
import { bearer, call } from '@sovren/testing';

import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';

jest.setTimeout(60_000);

describe('auth admin subjects (the operator over NATS)', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let operator: NatsClient;

  beforeAll(async () => {
    environment = await createAuthTestEnvironment({
      SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '10000',
      SOVREN_AUTH_MAX_API_KEYS_PER_USER: '3',
    });
    auth = await startAuthApp(environment);
    operator = new NatsClient({ servers: environment.nats.url, name: 'admin-subjects-spec' });
    await operator.connect();
  });

  afterAll(async () => {
    await operator?.drain();
    await auth?.close();
    await environment?.dispose();
  });

  const ask = <T>(subject: string, payload: unknown): Promise<T> => operator.request<unknown, T>(subject, payload);
  /** The error code auth answered with (rejects the test when it answered without an error). */
  const refusal = async (subject: string, payload: unknown): Promise<string> => {
    try {
      await ask(subject, payload);
    } catch (error) {
      if (error instanceof RemoteError) return error.remoteCode;
      throw error;
    }
    throw new Error(`${subject} accepted ${JSON.stringify(payload)}`);
  };
  const users = async () => (await ask<AuthAdminUsersListReplyV1>(AUTH_ADMIN_USERS_LIST, { v: 1 })).users;
  const keysOf = async (user: string) =>
    (await ask<AuthAdminKeysListReplyV1>(AUTH_ADMIN_KEYS_LIST, { v: 1, user })).keys;

  it('creates an admin without any OAuth provider, lists it, and refuses a second account for the same email', async () => {
    const { user } = await ask<AuthAdminUserReplyV1>(AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'root@example.test' });
    expect(user).toMatchObject({ email: 'root@example.test', displayName: 'root', role: 'admin' });
    expect(await users()).toContainEqual(user);
    expect(await refusal(AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'root@example.test' })).toBe('CONFLICT');
  });

  it('promotes and demotes a user named by email or id', async () => {
    const { user } = await ask<AuthAdminUserReplyV1>(AUTH_ADMIN_USERS_CREATE, {
      v: 1,
      email: 'ops@example.test',
      role: 'user',
    });
    expect(user.role).toBe('user');
    await ask(AUTH_ADMIN_USERS_PROMOTE, { v: 1, user: 'ops@example.test' });
    expect((await users()).find((u) => u.id === user.id)?.role).toBe('admin');
    await ask(AUTH_ADMIN_USERS_PROMOTE, { v: 1, user: user.id, role: 'user' });
    expect((await users()).find((u) => u.id === user.id)?.role).toBe('user');
    expect(await refusal(AUTH_ADMIN_USERS_PROMOTE, { v: 1, user: 'nobody@example.test' })).toBe('NOT_FOUND');
  });

  it('mints a key shown once and stored as a hash, which then authenticates HTTP calls with its scopes', async () => {
    const { user } = await ask<AuthAdminUserReplyV1>(AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'dev@example.test' });
    const created = await ask<AuthAdminKeysCreateReplyV1>(AUTH_ADMIN_KEYS_CREATE, {
      v: 1,
      user: 'dev@example.test',
      name: 'first key',
      scopes: ['auth:api_keys', 'inference:generate'],
      tier: 'premium',
    });
    expect(created.key).toMatch(/^sov_/);
    expect(created.apiKey).toMatchObject({
      userId: user.id,
      name: 'first key',
      scopes: ['auth:api_keys', 'inference:generate'],
      tier: 'premium',
      revokedAt: null,
    });
    expect(created.key.startsWith(created.apiKey.prefix)).toBe(true);
    const db = new Database(join(environment.root, 'data', 'api_auth.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT * FROM api_keys WHERE id = ?').get(created.apiKey.id) as Record<string, unknown>;
      expect(row['key_hash']).toBe(createHash('sha256').update(created.key).digest('hex'));
      expect(JSON.stringify(row)).not.toContain(created.key);
    } finally {
      db.close();
    }
    const listed = await call(`${auth.url}/api/v1/auth/api-keys`, { headers: bearer(created.key) });
    expect(listed.status).toBe(200);
    const [listedKey] = await keysOf(user.id);
    expect(listedKey).toMatchObject({ id: created.apiKey.id, revokedAt: null });
    expect(listedKey.lastUsedAt).not.toBeNull();
  });

  it("refuses a scope beyond the owner's role and keys past the cap, as the HTTP route does", async () => {
    await ask(AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'plain@example.test', role: 'user' });
    const code = await refusal(AUTH_ADMIN_KEYS_CREATE, {
      v: 1,
      user: 'plain@example.test',
      name: 'too strong',
      scopes: ['inference:admin'],
    });
    expect(code).toBe('FORBIDDEN');
    expect(await keysOf('plain@example.test')).toEqual([]);
    for (let i = 0; i < 3; i += 1) {
      await ask(AUTH_ADMIN_KEYS_CREATE, { v: 1, user: 'plain@example.test', name: `k${i}`, scopes: ['billing:read'] });
    }
    const fourth = { v: 1, user: 'plain@example.test', name: 'k3', scopes: ['billing:read'] };
    expect(await refusal(AUTH_ADMIN_KEYS_CREATE, fourth)).toBe('CONFLICT');
    expect(await keysOf('plain@example.test')).toHaveLength(3);
  });

  it('revokes a key: it stops authenticating at once', async () => {
    await ask(AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'gone@example.test' });
    const created = await ask<AuthAdminKeysCreateReplyV1>(AUTH_ADMIN_KEYS_CREATE, {
      v: 1,
      user: 'gone@example.test',
      name: 'short-lived',
      scopes: ['auth:api_keys'],
    });
    expect((await call(`${auth.url}/api/v1/auth/api-keys`, { headers: bearer(created.key) })).status).toBe(200);
    const revoked = await ask<{ apiKey: { revokedAt: string | null } }>(AUTH_ADMIN_KEYS_REVOKE, {
      v: 1,
      id: created.apiKey.id,
    });
    expect(revoked.apiKey.revokedAt).not.toBeNull();
    expect((await call(`${auth.url}/api/v1/auth/api-keys`, { headers: bearer(created.key) })).status).toBe(401);
    expect(await refusal(AUTH_ADMIN_KEYS_REVOKE, { v: 1, id: 'no-such-key' })).toBe('NOT_FOUND');
  });

  it.each([
    ['a users.create without a version', AUTH_ADMIN_USERS_CREATE, { email: 'x@example.test' }],
    ['a users.create with a bad email', AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'not-an-email' }],
    ['a users.create with an unknown role', AUTH_ADMIN_USERS_CREATE, { v: 1, email: 'y@example.test', role: 'root' }],
    ['a users.promote without a user', AUTH_ADMIN_USERS_PROMOTE, { v: 1 }],
    [
      'a keys.create without scopes',
      AUTH_ADMIN_KEYS_CREATE,
      { v: 1, user: 'root@example.test', name: 'k', scopes: [] },
    ],
    [
      'a keys.create with a malformed scope',
      AUTH_ADMIN_KEYS_CREATE,
      { v: 1, user: 'root@example.test', name: 'k', scopes: ['Everything!'] },
    ],
    [
      'a keys.create with an unknown tier',
      AUTH_ADMIN_KEYS_CREATE,
      { v: 1, user: 'root@example.test', name: 'k', scopes: ['billing:read'], tier: 'gold' },
    ],
    [
      'a keys.create with a malformed expiry',
      AUTH_ADMIN_KEYS_CREATE,
      { v: 1, user: 'root@example.test', name: 'k', scopes: ['billing:read'], expiresAt: 'tomorrow' },
    ],
    ['a keys.revoke without an id', AUTH_ADMIN_KEYS_REVOKE, { v: 1 }],
    ['a JSON array', AUTH_ADMIN_USERS_LIST, []],
  ])('refuses %s with INVALID_PAYLOAD and changes nothing', async (_name, subject, payload) => {
    const usersBefore = await users();
    const keysBefore = (await ask<AuthAdminKeysListReplyV1>(AUTH_ADMIN_KEYS_LIST, { v: 1 })).keys;
    expect(await refusal(subject, payload)).toBe('INVALID_PAYLOAD');
    expect(await users()).toEqual(usersBefore);
    expect((await ask<AuthAdminKeysListReplyV1>(AUTH_ADMIN_KEYS_LIST, { v: 1 })).keys).toEqual(keysBefore);
  });
});
