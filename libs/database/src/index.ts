// @sovren/database: base entity, optimistic locking, one data source per database, migrations runner,
// DatabaseModule and DatabaseHealth.

export * from './entities';
export * from './locking/database.errors';
export * from './locking/update-with-version';
export * from './data-sources/postgres.data-source';
export * from './data-sources/sqlite.data-source';
export * from './data-sources/run-migrations';
export * from './data-sources/typeorm-nest.logger';
export * from './module/managed-data-source';
export * from './module/database.registry';
export * from './module/database.health';
export * from './module/database.module';
