// Direct, synchronous access to auth's two SQLite files (users.db, api_auth.db) through the better-sqlite3
// handle of the data sources DatabaseModule opened and migrated. Prepared statements are cached per handle:
// auth.validate runs a few of them on every request of every service, so they must cost microseconds.
import { HttpStatus, Injectable } from '@nestjs/common';
import { DatabaseRegistry } from '@sovren/database';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type { Database, Statement } from 'better-sqlite3';

export type AuthDatabaseName = 'users' | 'api_auth';

export class AuthDatabaseUnavailableError extends Error {
  readonly code = 'AUTH_STORE_UNAVAILABLE';
  constructor(
    readonly database: AuthDatabaseName,
    reason: string | undefined,
  ) {
    super(`database ${database} is not available (${reason ?? 'unknown reason'})`);
  }
}

@Injectable()
export class AuthDatabases {
  private readonly statements = new WeakMap<Database, Map<string, Statement>>();
  private readonly tuned = new WeakSet<Database>();

  constructor(private readonly registry: DatabaseRegistry) {}

  /** The open handle; throws AuthDatabaseUnavailableError while the database is not ready. */
  handle(name: AuthDatabaseName): Database {
    const managed = this.registry.get(name);
    if (!managed.isReady()) throw new AuthDatabaseUnavailableError(name, managed.error());
    const driver = managed.dataSource.driver as unknown as { databaseConnection: Database };
    const db = driver.databaseConnection;
    if (!this.tuned.has(db)) {
      // WAL + synchronous=NORMAL: a commit survives a crash or restart of the process (what the rate-limit
      // window needs); only a power loss may drop the last commits. FULL would fsync on every auth.validate.
      db.pragma('synchronous = NORMAL');
      this.tuned.add(db);
    }
    return db;
  }

  /** Like handle(), but answers HTTP callers with a 503 envelope. */
  handleForHttp(name: AuthDatabaseName): Database {
    try {
      return this.handle(name);
    } catch (error) {
      if (error instanceof AuthDatabaseUnavailableError) {
        throw new ApiError(HttpStatus.SERVICE_UNAVAILABLE, ApiErrorCode.SERVICE_UNAVAILABLE, error.message, {
          dependency: name,
        });
      }
      throw error;
    }
  }

  /** A prepared statement on `db`, compiled once. */
  statement(db: Database, sql: string): Statement {
    let cache = this.statements.get(db);
    if (!cache) {
      cache = new Map();
      this.statements.set(db, cache);
    }
    let prepared = cache.get(sql);
    if (!prepared) {
      prepared = db.prepare(sql);
      cache.set(sql, prepared);
    }
    return prepared;
  }

  /** Waits until both files are open and migrated (start-up of NATS responders). */
  async whenReady(): Promise<void> {
    await Promise.all([this.registry.get('users').whenReady(), this.registry.get('api_auth').whenReady()]);
  }
}
