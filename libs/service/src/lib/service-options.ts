// What one SOVREN service declares about itself: its name and the databases it owns.
import { hostname } from 'node:os';

import type { ServiceName, SqliteDatabaseName } from '@sovren/config';

export interface ServiceOptions {
  service: ServiceName;
  /** Every service keeps its main data in PostgreSQL; readiness depends on it. */
  postgres: boolean;
  /** Isolated SQLite databases this service owns (under $SOVREN_ROOT/data). */
  sqlite: SqliteDatabaseName[];
}

export const SERVICE_OPTIONS = Symbol('SERVICE_OPTIONS');

/** Identifies this process among several instances of the same service. */
export function instanceId(): string {
  return `${hostname()}:${process.pid}`;
}
