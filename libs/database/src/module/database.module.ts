// DatabaseModule.forRoot({ postgres, sqlite, runMigrations }): the global module that opens this process's
// databases, provides their DataSources under POSTGRES_DATA_SOURCE / sqliteDataSourceToken(name), exposes
// DatabaseHealth, and closes everything on shutdown.
//
// Start-up never fails because PostgreSQL is unreachable: the first attempt is made during init, then retries
// continue in the background (see managed-data-source.ts) while DatabaseHealth reports `postgres` as failing.
// Until then the DataSource is provided but not initialised; use DatabaseRegistry.get(name).whenReady() to wait.

import { DynamicModule, Module, Provider } from '@nestjs/common';
import { PlatformConfig, SQLITE_DATABASES, type SqliteDatabaseName } from '@sovren/config';
import type { DataSource } from 'typeorm';
import { createPostgresDataSource, POSTGRES_DATABASE } from '../data-sources/postgres.data-source';
import { createSqliteDataSource } from '../data-sources/sqlite.data-source';
import { DatabaseHealth } from './database.health';
import { DATABASE_REGISTRY, DatabaseRegistry } from './database.registry';
import { ManagedDataSource, type ConnectRetryOptions } from './managed-data-source';

export const POSTGRES_DATA_SOURCE = Symbol('POSTGRES_DATA_SOURCE');

const sqliteTokens = new Map<SqliteDatabaseName, symbol>(
  SQLITE_DATABASES.map((name) => [name, Symbol(`SQLITE_DATA_SOURCE_${name}`)]),
);

/** Injection token of a SQLite database's DataSource. */
export function sqliteDataSourceToken(name: SqliteDatabaseName): symbol {
  const token = sqliteTokens.get(name);
  if (!token) throw new Error(`Unknown SQLite database "${name}"; expected one of ${SQLITE_DATABASES.join(', ')}`);
  return token;
}

export interface DatabaseModuleOptions {
  /** Open the PostgreSQL database (SOVREN_DATABASE_URL). */
  postgres: boolean;
  /** SQLite databases this process owns. */
  sqlite: SqliteDatabaseName[];
  /** Apply pending migrations once each data source connects (otherwise use `nx run migrations:migrate`). */
  runMigrations: boolean;
  /** Shown in pg_stat_activity, e.g. `sovren-auth`. */
  applicationName?: string;
  retry?: ConnectRetryOptions;
}

@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions): DynamicModule {
    for (const name of options.sqlite) sqliteDataSourceToken(name);
    const providers: Provider[] = [
      {
        provide: DATABASE_REGISTRY,
        inject: [PlatformConfig],
        useFactory: (config: PlatformConfig): DatabaseRegistry => {
          const managed: ManagedDataSource[] = [];
          if (options.postgres) {
            const dataSource = createPostgresDataSource(config, { applicationName: options.applicationName });
            managed.push(new ManagedDataSource(POSTGRES_DATABASE, dataSource, options.runMigrations, options.retry));
          }
          for (const name of new Set(options.sqlite)) {
            const dataSource = createSqliteDataSource(config, name);
            managed.push(new ManagedDataSource(name, dataSource, options.runMigrations, options.retry));
          }
          return new DatabaseRegistry(managed);
        },
      },
      { provide: DatabaseRegistry, useExisting: DATABASE_REGISTRY },
      DatabaseHealth,
    ];
    const exported: Array<symbol | typeof DatabaseHealth | typeof DatabaseRegistry> = [
      DATABASE_REGISTRY,
      DatabaseRegistry,
      DatabaseHealth,
    ];
    if (options.postgres) {
      providers.push({
        provide: POSTGRES_DATA_SOURCE,
        inject: [DATABASE_REGISTRY],
        useFactory: (registry: DatabaseRegistry): DataSource => registry.get(POSTGRES_DATABASE).dataSource,
      });
      exported.push(POSTGRES_DATA_SOURCE);
    }
    for (const name of new Set(options.sqlite)) {
      const token = sqliteDataSourceToken(name);
      providers.push({
        provide: token,
        inject: [DATABASE_REGISTRY],
        useFactory: (registry: DatabaseRegistry): DataSource => registry.get(name).dataSource,
      });
      exported.push(token);
    }
    return { module: DatabaseModule, global: true, providers, exports: exported };
  }
}
