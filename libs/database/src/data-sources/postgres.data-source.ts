// The PostgreSQL data source (database `sovren`): entities and migrations listed explicitly, never synchronize.
// For the TypeORM CLI, see cli/postgres.cli-data-source.ts (it loads the configuration from the environment).

import type { PlatformConfig } from '@sovren/config';
import { postgresMigrations } from '@sovren/migrations';
import { DataSource } from 'typeorm';
import { POSTGRES_ENTITIES } from '../entities';
import { TypeOrmNestLogger } from './typeorm-nest.logger';

export const POSTGRES_DATABASE = 'postgres';
export const POSTGRES_MIGRATIONS_TABLE = 'migrations_postgres';

export interface PostgresDataSourceOptions {
  /** Shown in pg_stat_activity, e.g. `sovren-billing`. */
  applicationName?: string;
  /** Pool size (default 10). */
  poolSize?: number;
}

export function createPostgresDataSource(config: PlatformConfig, options: PostgresDataSourceOptions = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url: config.databaseUrl,
    applicationName: options.applicationName ?? 'sovren',
    entities: POSTGRES_ENTITIES,
    migrations: postgresMigrations,
    migrationsTableName: POSTGRES_MIGRATIONS_TABLE,
    // Schema changes only ever come from migrations, run explicitly (runMigrations or `nx run migrations:migrate`).
    synchronize: false,
    migrationsRun: false,
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    connectTimeoutMS: 3_000,
    poolSize: options.poolSize ?? 10,
    maxQueryExecutionTime: 1_000,
    logger: new TypeOrmNestLogger(POSTGRES_DATABASE),
  });
}
