// API keys for tests that call the running platform as a given user: writes the user (users.db) and the key
// (api_auth.db) under SOVREN_ROOT/data exactly as the auth service stores them — SHA-256 of the key, visible
// prefix — so the real auth service validates it. (No HTTP route creates the first admin: that comes from a
// provider login with SOVREN_AUTH_ADMIN_EMAILS, which these tests have no provider for.)
import Database from 'better-sqlite3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';

export async function createApiKey(sovrenRoot: string, role: 'admin' | 'user', scopes: string[] = []): Promise<string> {
  const userId = randomUUID();
  const id = randomBytes(6).toString('hex').slice(0, 8);
  const prefix = `sov_${id}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  const users = new Database(join(sovrenRoot, 'data', 'users.db'));
  try {
    users.pragma('busy_timeout = 5000');
    users
      .prepare('INSERT INTO users (id, email, display_name, role) VALUES (?, NULL, ?, ?)')
      .run(userId, `e2e ${role}`, role);
  } finally {
    users.close();
  }
  const apiAuth = new Database(join(sovrenRoot, 'data', 'api_auth.db'));
  try {
    apiAuth.pragma('busy_timeout = 5000');
    apiAuth
      .prepare(
        'INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, tier, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        randomUUID(),
        userId,
        `e2e ${role} key`,
        prefix,
        createHash('sha256').update(key).digest('hex'),
        JSON.stringify(scopes),
        'authenticated',
        Date.now(),
      );
  } finally {
    apiAuth.close();
  }
  return key;
}
