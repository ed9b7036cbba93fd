// One data source plus its start-up state: initialise (and migrate) now if possible, otherwise keep retrying in
// the background with backoff. This is what lets a service start while PostgreSQL is down, report the database
// as its failing dependency on /health/ready, and become ready by itself once the database is back.

import { Logger } from '@nestjs/common';
import { errorMessage, retry } from '@sovren/resilience';
import type { DataSource } from 'typeorm';
import { DatabaseUnavailableError } from '../locking/database.errors';
import { runMigrations } from '../data-sources/run-migrations';

export interface ConnectRetryOptions {
  /** First retry delay (ms, default 1000); doubles after each failure. */
  initialDelayMs?: number;
  /** Longest retry delay (ms, default 30000). */
  maxDelayMs?: number;
}

export type ManagedDataSourceState = 'connecting' | 'ready' | 'closed';

export class ManagedDataSource {
  private readonly logger: Logger;
  private state: ManagedDataSourceState = 'connecting';
  private lastError: string | undefined = 'not connected yet';
  private readonly closing = new AbortController();
  /** The first attempt, then the background retries; settles once ready or closed. */
  private connecting: Promise<void> | undefined;
  private firstAttempt: Promise<void> | undefined;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];

  constructor(
    readonly name: string,
    readonly dataSource: DataSource,
    private readonly migrate: boolean,
    retry: ConnectRetryOptions = {},
  ) {
    this.logger = new Logger(`Database:${name}`);
    this.initialDelayMs = retry.initialDelayMs ?? 1_000;
    this.maxDelayMs = retry.maxDelayMs ?? 30_000;
  }

  status(): ManagedDataSourceState {
    return this.state;
  }

  isReady(): boolean {
    return this.state === 'ready';
  }

  /** Why it is not ready (undefined when ready). */
  error(): string | undefined {
    return this.state === 'ready' ? undefined : this.lastError;
  }

  /** Makes one attempt and resolves when it is over, successful or not; later attempts run in the background. */
  start(): Promise<void> {
    this.firstAttempt ??= new Promise<void>((firstOver) => {
      this.connecting = retry(() => this.attempt(), {
        initialMs: this.initialDelayMs,
        maxMs: this.maxDelayMs,
        jitter: 'none',
        signal: this.closing.signal,
        // The retry alone must not keep a process alive.
        unref: true,
        onRetry: (_error, _attempt, delayMs) => {
          this.logger.error(`Database ${this.name} unavailable (${this.lastError}); retrying in ${delayMs} ms`);
          firstOver();
        },
      }).then(
        () => firstOver(),
        (error: unknown) => {
          firstOver();
          // close() ends the retries; anything else would be a bug worth seeing.
          if (!this.closing.signal.aborted)
            this.logger.error(`Database ${this.name} retries stopped: ${errorMessage(error)}`);
        },
      );
    });
    return this.firstAttempt;
  }

  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new DatabaseUnavailableError(this.name, 'closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.lastError = 'closed';
    this.closing.abort(new DatabaseUnavailableError(this.name, 'closed'));
    for (const waiter of this.waiters.splice(0)) waiter.reject(new DatabaseUnavailableError(this.name, 'closed'));
    // Let an initialisation in flight finish so that its connections are not left open behind our back.
    await this.connecting;
    if (this.dataSource.isInitialized) {
      try {
        await this.dataSource.destroy();
      } catch (error) {
        this.logger.error(`Closing database ${this.name} failed: ${errorMessage(error)}`);
      }
    }
  }

  private async attempt(): Promise<void> {
    try {
      if (!this.dataSource.isInitialized) await this.dataSource.initialize();
      if (this.migrate && this.state !== 'closed') {
        const { applied } = await runMigrations(this.dataSource);
        this.logger.log(
          applied.length > 0
            ? `Applied migrations: ${applied.join(', ')}`
            : 'Schema up to date (no pending migrations)',
        );
      }
    } catch (error) {
      this.lastError = errorMessage(error);
      throw error;
    }
    if (this.state === 'closed') return;
    this.state = 'ready';
    this.lastError = undefined;
    this.logger.log(`Database ${this.name} ready`);
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }
}
