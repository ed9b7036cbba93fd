// Billing's PostgreSQL access: the shared data source once it is connected and migrated, or a clear error.
import { Injectable } from '@nestjs/common';
import { DatabaseRegistry, POSTGRES_DATABASE } from '@sovren/database';
import type { DataSource } from 'typeorm';

@Injectable()
export class BillingPostgres {
  constructor(private readonly databases: DatabaseRegistry) {}

  /** The data source; throws while PostgreSQL is not available. */
  dataSource(): DataSource {
    const postgres = this.databases.get(POSTGRES_DATABASE);
    if (!postgres.isReady()) throw new Error(`PostgreSQL is not available: ${postgres.error() ?? postgres.status()}`);
    return postgres.dataSource;
  }

  whenReady(): Promise<void> {
    return this.databases
      .get(POSTGRES_DATABASE)
      .whenReady()
      .then(() => undefined);
  }
}
