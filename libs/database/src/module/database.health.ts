// Readiness of every data source of the process: a `SELECT 1` per data source with a short timeout.

import { Inject, Injectable } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import { DATABASE_REGISTRY, type DatabaseRegistry } from './database.registry';

export interface DatabaseHealthResult {
  name: string;
  ok: boolean;
  error?: string;
}

export const DATABASE_HEALTH_TIMEOUT_MS = 1_500;

@Injectable()
export class DatabaseHealth {
  constructor(@Inject(DATABASE_REGISTRY) private readonly registry: DatabaseRegistry) {}

  /** One result per data source, `ok: false` with the reason when it is not initialised or does not answer. */
  check(timeoutMs = DATABASE_HEALTH_TIMEOUT_MS): Promise<DatabaseHealthResult[]> {
    return Promise.all(
      [...this.registry.values()].map(async (managed): Promise<DatabaseHealthResult> => {
        if (!managed.isReady()) {
          return { name: managed.name, ok: false, error: managed.error() ?? managed.status() };
        }
        let timer: NodeJS.Timeout | undefined;
        try {
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`SELECT 1 took longer than ${timeoutMs} ms`)), timeoutMs);
          });
          await Promise.race([managed.dataSource.query('SELECT 1'), timeout]);
          return { name: managed.name, ok: true };
        } catch (error) {
          return { name: managed.name, ok: false, error: errorMessage(error) };
        } finally {
          if (timer) clearTimeout(timer);
        }
      }),
    );
  }
}
