// Runs a data source's pending migrations, explicitly (never migrationsRun/synchronize). On PostgreSQL an advisory
// lock makes services that start together take turns instead of racing to create the same tables.

import type { DataSource, Migration } from 'typeorm';

/** Arbitrary constant key of the PostgreSQL advisory lock that serialises migration runs ("SOVR" in hex). */
const MIGRATION_LOCK_KEY = 0x534f5652;

export interface MigrationRunResult {
  /** Names of the migrations applied by this run (empty when the schema was already up to date). */
  applied: string[];
}

export async function runMigrations(dataSource: DataSource): Promise<MigrationRunResult> {
  if (!dataSource.isInitialized) {
    throw new Error('runMigrations: the data source is not initialised (call initialize() first)');
  }
  if (dataSource.options.type !== 'postgres') {
    return { applied: names(await dataSource.runMigrations({ transaction: 'each' })) };
  }
  const lockRunner = dataSource.createQueryRunner();
  try {
    await lockRunner.connect();
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return { applied: names(await dataSource.runMigrations({ transaction: 'each' })) };
    } finally {
      await lockRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lockRunner.release();
  }
}

function names(migrations: Migration[]): string[] {
  return migrations.map((migration) => migration.name);
}
