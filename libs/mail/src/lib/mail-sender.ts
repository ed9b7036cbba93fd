// Sends mail through the local SMTP relay (nodemailer) on a bounded retry queue: send() returns at once, a
// failure is logged with the message's kind and recipients and retried with back-off, and nothing a caller
// does (a login, an alert evaluation) ever waits on mail.
import { Logger, type OnModuleDestroy } from '@nestjs/common';
import type { MetricsService } from '@sovren/observability';
import { createTransport, type Transporter } from 'nodemailer';
import type { Counter } from 'prom-client';

import { RetryQueue } from './retry-queue';

export interface MailMessage {
  to: string | string[];
  subject: string;
  text: string;
  headers?: Record<string, string>;
  /** What the mail is about, for logs and metrics (`new_device`, `api_key_created`, `alert`). */
  kind: string;
}

export interface MailSenderOptions {
  host: string;
  port: number;
  from: string;
  maxAttempts: number;
  firstRetryDelayMs: number;
  maxRetryDelayMs: number;
  maxPending: number;
}

export type MailResult = 'sent' | 'retried' | 'failed' | 'dropped';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** An SMTP 5xx answer: the relay refuses the message for good, so retrying cannot help. */
export function isPermanentSmtpFailure(error: unknown): boolean {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

export class MailSender implements OnModuleDestroy {
  private readonly logger = new Logger(MailSender.name);
  private readonly transport: Transporter;
  private readonly sent: Counter<'kind' | 'result'> | undefined;
  readonly queue: RetryQueue;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: MailSenderOptions,
    metrics?: MetricsService,
  ) {
    this.transport = createTransport({
      host: options.host,
      port: options.port,
      secure: false,
      // The relay is on this machine: the message never crosses a network, and a local relay's self-signed
      // STARTTLS certificate must not make every mail fail.
      ignoreTLS: LOOPBACK.has(options.host),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    this.sent = metrics?.counter({
      name: 'sovren_mail_sent_total',
      help: 'Mail handed to the local SMTP relay, by kind and result (sent, retried, failed, dropped).',
      labelNames: ['kind', 'result'],
    });
    this.queue = new RetryQueue({
      name: 'MailQueue',
      maxAttempts: options.maxAttempts,
      firstDelayMs: options.firstRetryDelayMs,
      maxDelayMs: options.maxRetryDelayMs,
      maxPending: options.maxPending,
      isPermanent: isPermanentSmtpFailure,
      onRetry: (job) => this.count(job.kind, 'retried'),
      onSettled: (job, outcome) => this.count(job.kind, outcome === 'done' ? 'sent' : 'failed'),
    });
  }

  /** Queues the message; never throws and never blocks. False when it was dropped (closed or queue full). */
  send(message: MailMessage): boolean {
    const to = Array.isArray(message.to) ? message.to : [message.to];
    if (to.length === 0) return false;
    const label = `${message.kind} to ${to.join(', ')}`;
    const queued = this.queue.push(
      label,
      async () => {
        await this.transport.sendMail({
          from: this.options.from,
          to,
          subject: message.subject,
          text: message.text,
          headers: message.headers,
        });
      },
      message.kind,
    );
    if (!queued) this.count(message.kind, 'dropped');
    return queued;
  }

  /** Stops retrying, waits for the delivery in progress and closes the SMTP connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.queue.close().finally(() => this.transport.close());
    return this.closing;
  }

  onModuleDestroy(): Promise<void> {
    return this.close();
  }

  private count(kind: string, result: MailResult): void {
    this.sent?.inc({ kind, result });
  }
}
