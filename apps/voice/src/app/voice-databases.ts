// The voice service's databases: PostgreSQL (call records), phone_numbers.db and applications.db, each once ready.
import { Injectable } from '@nestjs/common';
import { DatabaseRegistry, POSTGRES_DATABASE } from '@sovren/database';
import type { DataSource } from 'typeorm';

@Injectable()
export class VoiceDatabases {
  constructor(private readonly databases: DatabaseRegistry) {}

  postgres(): DataSource {
    return this.ready(POSTGRES_DATABASE);
  }

  phoneNumbers(): DataSource {
    return this.ready('phone_numbers');
  }

  applications(): DataSource {
    return this.ready('applications');
  }

  private ready(name: string): DataSource {
    const entry = this.databases.get(name);
    if (!entry.isReady()) throw new Error(`database ${name} is not available: ${entry.error() ?? entry.status()}`);
    return entry.dataSource;
  }
}
