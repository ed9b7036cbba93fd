// The SQLite data sources (users, api_auth, applications, phone_numbers), each its own file under
// `$SOVREN_ROOT/data/<name>.db` with its own migrations and migrations table. better-sqlite3, WAL, foreign keys on.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SQLITE_DATABASES, type PlatformConfig, type SqliteDatabaseName } from '@sovren/config';
import { sqliteMigrations } from '@sovren/migrations';
import { DataSource } from 'typeorm';
import { SQLITE_ENTITIES } from '../entities';
import { TypeOrmNestLogger } from './typeorm-nest.logger';

export function sqliteMigrationsTable(name: SqliteDatabaseName): string {
  return `migrations_${name}`;
}

export function createSqliteDataSource(config: PlatformConfig, name: SqliteDatabaseName): DataSource {
  if (!(SQLITE_DATABASES as readonly string[]).includes(name)) {
    throw new Error(`Unknown SQLite database "${name}"; expected one of ${SQLITE_DATABASES.join(', ')}`);
  }
  const file = config.sqlitePath(name);
  // The driver creates the folder too, but only on initialize(); doing it here makes a permission problem
  // surface with the path in the message at construction time.
  mkdirSync(dirname(file), { recursive: true });
  return new DataSource({
    type: 'better-sqlite3',
    database: file,
    entities: [...SQLITE_ENTITIES[name]],
    migrations: sqliteMigrations[name],
    migrationsTableName: sqliteMigrationsTable(name),
    synchronize: false,
    migrationsRun: false,
    // WAL lets readers run while a write is in progress; the driver turns foreign keys on for every connection.
    enableWAL: true,
    // Wait this long for another process's write lock instead of failing at once with SQLITE_BUSY.
    timeout: 5_000,
    logger: new TypeOrmNestLogger(name),
  });
}

/** One factory per SQLite database, for symmetry with createPostgresDataSource. */
export const createUsersDataSource = (config: PlatformConfig): DataSource => createSqliteDataSource(config, 'users');
export const createApiAuthDataSource = (config: PlatformConfig): DataSource =>
  createSqliteDataSource(config, 'api_auth');
export const createApplicationsDataSource = (config: PlatformConfig): DataSource =>
  createSqliteDataSource(config, 'applications');
export const createPhoneNumbersDataSource = (config: PlatformConfig): DataSource =>
  createSqliteDataSource(config, 'phone_numbers');
