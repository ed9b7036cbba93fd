// Runs jobs one at a time in the background, retrying failures with exponential back-off: alert mail and
// history writes must never block rule evaluation, and a failing SMTP server or database must not lose them.
import { Logger } from '@nestjs/common';

export interface RetryQueueOptions {
  name: string;
  maxAttempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

interface Job {
  label: string;
  run: () => Promise<void>;
  attempts: number;
}

export class RetryQueue {
  private readonly logger: Logger;
  private readonly jobs: Job[] = [];
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: RetryQueueOptions) {
    this.logger = new Logger(options.name);
  }

  get pending(): number {
    return this.jobs.length;
  }

  push(label: string, run: () => Promise<void>): void {
    if (this.closed) {
      this.logger.warn({ msg: 'queue closed; job dropped', job: label });
      return;
    }
    this.jobs.push({ label, run, attempts: 0 });
    if (!this.timer) void this.drain();
  }

  /** Stops retrying; jobs still waiting are logged as dropped. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const job of this.jobs.splice(0)) this.logger.error({ msg: 'shutting down; job dropped', job: job.label, attempts: job.attempts });
    this.notifyIdle();
  }

  /** Resolves once no job is waiting (for tests and shutdown). */
  whenIdle(): Promise<void> {
    if (this.jobs.length === 0 && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.jobs.length > 0 && !this.closed) {
        const job = this.jobs[0];
        job.attempts += 1;
        try {
          await job.run();
          this.jobs.shift();
          if (job.attempts > 1) this.logger.log({ msg: 'succeeded after retrying', job: job.label, attempts: job.attempts });
        } catch (error) {
          const err = error instanceof Error ? error.message : String(error);
          if (job.attempts >= this.options.maxAttempts) {
            this.jobs.shift();
            this.logger.error({ msg: 'giving up', job: job.label, attempts: job.attempts, err });
            continue;
          }
          const delayMs = Math.min(this.options.maxDelayMs, this.options.firstDelayMs * 2 ** (job.attempts - 1));
          this.logger.warn({ msg: 'failed; will retry', job: job.label, attempt: job.attempts, retry_in_ms: delayMs, err });
          this.timer = setTimeout(() => {
            this.timer = undefined;
            void this.drain();
          }, delayMs);
          this.timer.unref();
          return;
        }
      }
    } finally {
      this.running = false;
      if (this.jobs.length === 0) this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
