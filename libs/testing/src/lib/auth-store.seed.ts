// A user with an API key and a session, written straight into auth's SQLite files (SOVREN_ROOT/data/users.db and
// api_auth.db) the way auth stores them: SHA-256 of each credential, the key's visible prefix. For tests and
// benchmarks that run the built auth service as a process: no HTTP route creates the first user without a login
// provider. Auth must have started once on that root (its migrations create the tables).
import Database from 'better-sqlite3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';

export interface SeededAuthUser {
  userId: string;
  /** `sov_<id>_<secret>`, holding the scopes asked for. */
  apiKey: string;
  /** `sat_<secret>`, a session access token valid for an hour. */
  accessToken: string;
}

export interface SeedAuthUserOptions {
  role?: 'user' | 'admin';
  /** The API key's scopes (default none). */
  scopes?: readonly string[];
  /** Names the user and its key (default `test`). */
  label?: string;
}

export function seedAuthUser(sovrenRoot: string, options: SeedAuthUserOptions = {}): SeededAuthUser {
  const role = options.role ?? 'user';
  const label = options.label ?? 'test';
  const now = Date.now();
  const hash = (token: string): string => createHash('sha256').update(token).digest('hex');
  const userId = randomUUID();
  const keyPrefix = `sov_${randomBytes(6).toString('hex').slice(0, 8)}`;
  const apiKey = `${keyPrefix}_${randomBytes(32).toString('base64url')}`;
  const accessToken = `sat_${randomBytes(32).toString('base64url')}`;
  const sessionId = randomUUID();
  withDatabase(join(sovrenRoot, 'data', 'users.db'), (users) => {
    users
      .prepare('INSERT INTO users (id, email, display_name, role) VALUES (?, NULL, ?, ?)')
      .run(userId, `${label} ${role}`, role);
  });
  withDatabase(join(sovrenRoot, 'data', 'api_auth.db'), (apiAuth) => {
    apiAuth
      .prepare(
        'INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, tier, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        randomUUID(),
        userId,
        `${label} ${role} key`,
        keyPrefix,
        hash(apiKey),
        JSON.stringify(options.scopes ?? []),
        'authenticated',
        now,
      );
    apiAuth
      .prepare(
        `INSERT INTO sessions (id, user_id, device_id, user_agent, ip, created_at, last_used_at, expires_at)
         VALUES (?, ?, ?, NULL, NULL, ?, ?, ?)`,
      )
      .run(sessionId, userId, label, now, now, now + 24 * 3600_000);
    apiAuth
      .prepare(
        `INSERT INTO session_tokens (token_hash, session_id, kind, created_at, expires_at) VALUES (?, ?, 'access', ?, ?)`,
      )
      .run(hash(accessToken), sessionId, now, now + 3600_000);
  });
  return { userId, apiKey, accessToken };
}

function withDatabase(path: string, write: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    // Auth has the file open too (WAL): wait for its writes rather than fail.
    db.pragma('busy_timeout = 5000');
    write(db);
  } finally {
    db.close();
  }
}
