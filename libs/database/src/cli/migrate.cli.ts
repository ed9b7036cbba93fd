// `nx run migrations:migrate`: applies pending migrations to PostgreSQL and every SQLite database, reading the
// environment through @sovren/config. Exit code 0 when all are up to date, 1 naming each database that failed.
// Options: --only=postgres,users (a subset). It lives in this lib rather than in migrations/ because it uses the
// data sources here, and the data sources import migrations/: the other way round would be a project cycle.

import { loadPlatformConfig, SQLITE_DATABASES, type PlatformConfig, type SqliteDatabaseName } from '@sovren/config';
import type { DataSource } from 'typeorm';
import { errorMessage } from '@sovren/resilience';
import { createPostgresDataSource, POSTGRES_DATABASE } from '../data-sources/postgres.data-source';
import { runMigrations } from '../data-sources/run-migrations';
import { createSqliteDataSource } from '../data-sources/sqlite.data-source';

const ALL_DATABASES = [POSTGRES_DATABASE, ...SQLITE_DATABASES] as const;
type DatabaseName = (typeof ALL_DATABASES)[number];

function selectedDatabases(argv: string[]): DatabaseName[] {
  const only = argv.find((arg) => arg.startsWith('--only='));
  if (!only) return [...ALL_DATABASES];
  const names = only
    .slice('--only='.length)
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(ALL_DATABASES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`--only: unknown database(s) ${unknown.join(', ')}; expected ${ALL_DATABASES.join(', ')}`);
  }
  return names as DatabaseName[];
}

function createDataSource(config: PlatformConfig, name: DatabaseName): DataSource {
  return name === POSTGRES_DATABASE
    ? createPostgresDataSource(config, { applicationName: 'sovren-migrate', poolSize: 2 })
    : createSqliteDataSource(config, name as SqliteDatabaseName);
}

async function migrate(config: PlatformConfig, name: DatabaseName): Promise<boolean> {
  let dataSource: DataSource | undefined;
  try {
    dataSource = createDataSource(config, name);
    await dataSource.initialize();
    const { applied } = await runMigrations(dataSource);
    console.log(`${name}: ${applied.length > 0 ? `applied ${applied.join(', ')}` : 'up to date'}`);
    return true;
  } catch (error) {
    console.error(`${name}: migration failed: ${errorMessage(error)}`);
    return false;
  } finally {
    if (dataSource?.isInitialized) {
      await dataSource.destroy().catch((error: unknown) => {
        console.error(`${name}: closing the connection failed: ${String(error)}`);
      });
    }
  }
}

async function main(): Promise<number> {
  const config = loadPlatformConfig();
  let failed = 0;
  for (const name of selectedDatabases(process.argv.slice(2))) {
    if (!(await migrate(config, name))) failed += 1;
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(errorMessage(error));
    process.exitCode = 1;
  },
);
