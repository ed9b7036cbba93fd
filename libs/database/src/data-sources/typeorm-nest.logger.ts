// Sends TypeORM's own log lines (errors, slow queries, migrations) to the Nest logger, so they come out as the
// service's JSON lines; individual queries are not logged.

import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

export class TypeOrmNestLogger implements TypeOrmLogger {
  private readonly logger: Logger;

  constructor(database: string) {
    this.logger = new Logger(`TypeORM:${database}`);
  }

  logQuery(): void {
    // Deliberately silent: query logging would flood the logs and could leak personal data.
  }

  logQueryError(error: string | Error, query: string): void {
    this.logger.error(`Query failed: ${error instanceof Error ? error.message : error} -- ${query.slice(0, 500)}`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`Slow query (${time} ms): ${query.slice(0, 500)}`);
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.log(String(message));
  }
}
