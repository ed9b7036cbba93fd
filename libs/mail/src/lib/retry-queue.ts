// Runs jobs one at a time in the background, retrying failures with capped exponential back-off. Callers only
// push: mail and history writes must never block the code that produces them, and a failing SMTP server or
// database must not lose them. The queue is bounded, so an outage cannot grow memory without end.
import { Logger } from '@nestjs/common';
import { errorMessage, retry } from '@sovren/resilience';

export interface RetryQueueOptions {
  /** Logger context, e.g. `MailQueue`. */
  name: string;
  maxAttempts: number;
  firstDelayMs: number;
  maxDelayMs: number;
  /** Jobs waiting at most; a push beyond it is refused (logged, `push` returns false). Default 1000. */
  maxPending?: number;
  /** A failure this returns true for is not retried (e.g. an SMTP 5xx: the server will never accept it). */
  isPermanent?: (error: unknown) => boolean;
  /** Called once per job when it ends: `done`, or `failed` after the last attempt or a permanent failure. */
  onSettled?: (job: QueuedJob, outcome: 'done' | 'failed') => void;
  /** Called when an attempt failed and the job will be tried again. */
  onRetry?: (job: QueuedJob) => void;
}

export interface QueuedJob {
  /** Names the job in logs. */
  label: string;
  /** What kind of job it is, for the caller's metrics (e.g. the mail's kind). */
  kind: string;
  attempts: number;
}

interface Job extends QueuedJob {
  run: () => Promise<void>;
}

export const DEFAULT_MAX_PENDING = 1_000;

export class RetryQueue {
  private readonly logger: Logger;
  private readonly jobs: Job[] = [];
  private readonly maxPending: number;
  private running = false;
  private closed = false;
  private readonly closing = new AbortController();
  private draining: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: RetryQueueOptions) {
    this.logger = new Logger(options.name);
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  }

  get pending(): number {
    return this.jobs.length;
  }

  /** Queues a job; false when the queue is closed or full (the job is dropped and that is logged). */
  push(label: string, run: () => Promise<void>, kind = 'job'): boolean {
    if (this.closed) {
      this.logger.warn({ msg: 'queue closed; job dropped', job: label });
      return false;
    }
    if (this.jobs.length >= this.maxPending) {
      this.logger.error({
        msg: 'queue full; job dropped',
        job: label,
        pending: this.jobs.length,
        max_pending: this.maxPending,
      });
      return false;
    }
    this.jobs.push({ label, kind, run, attempts: 0 });
    if (!this.running) this.draining = this.drain();
    return true;
  }

  /** Stops retrying and waits for the attempt in progress; jobs still waiting are logged as dropped. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort(new Error(`${this.options.name} closed`));
    await this.draining;
    for (const job of this.jobs.splice(0))
      this.logger.error({ msg: 'shutting down; job dropped', job: job.label, attempts: job.attempts });
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
        try {
          await retry(
            async (attempt) => {
              job.attempts = attempt;
              await job.run();
            },
            {
              maxAttempts: this.options.maxAttempts,
              initialMs: this.options.firstDelayMs,
              maxMs: this.options.maxDelayMs,
              jitter: 'none',
              retryable: (error) => !(this.options.isPermanent?.(error) ?? false),
              signal: this.closing.signal,
              unref: true,
              onRetry: (error, attempt, delayMs) => {
                this.logger.warn({
                  msg: 'failed; will retry',
                  job: job.label,
                  attempt,
                  retry_in_ms: delayMs,
                  err: errorMessage(error),
                });
                this.options.onRetry?.(job);
              },
            },
          );
          this.jobs.shift();
          if (job.attempts > 1)
            this.logger.log({ msg: 'succeeded after retrying', job: job.label, attempts: job.attempts });
          this.options.onSettled?.(job, 'done');
        } catch (error) {
          if (this.closing.signal.aborted) return; // close() logs the job as dropped
          this.jobs.shift();
          const permanent = this.options.isPermanent?.(error) ?? false;
          this.logger.error({
            msg: permanent ? 'refused permanently; giving up' : 'giving up',
            job: job.label,
            attempts: job.attempts,
            err: errorMessage(error),
          });
          this.options.onSettled?.(job, 'failed');
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
