// The data sources this process opened (by database name), started at module init and closed at shutdown.

import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ManagedDataSource } from './managed-data-source';

export const DATABASE_REGISTRY = Symbol('DATABASE_REGISTRY');

@Injectable()
export class DatabaseRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly byName = new Map<string, ManagedDataSource>();

  constructor(managed: ManagedDataSource[]) {
    for (const entry of managed) this.byName.set(entry.name, entry);
  }

  get(name: string): ManagedDataSource {
    const entry = this.byName.get(name);
    if (!entry) {
      throw new Error(`Database ${name} is not opened by this process; add it to DatabaseModule.forRoot`);
    }
    return entry;
  }

  values(): IterableIterator<ManagedDataSource> {
    return this.byName.values();
  }

  /** First attempt for every data source; failures are retried in the background (see ManagedDataSource). */
  async onModuleInit(): Promise<void> {
    await Promise.all([...this.byName.values()].map((entry) => entry.start()));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.byName.values()].map((entry) => entry.close()));
  }
}
