// Sends mail through the local SMTP relay (nodemailer), in the background: send() returns at once, a failure
// is logged and retried with backoff, and nothing a caller does (a login, creating a key) ever waits on mail.
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';
import { MetricsService } from '@sovren/observability';
import { createTransport, type Transporter } from 'nodemailer';
import type { Counter } from 'prom-client';

import { MailEnv } from './mail.env';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  /** What the mail is about, for logs and metrics (`new_device`, `api_key_created`). */
  kind: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

@Injectable()
export class MailSender implements OnApplicationShutdown {
  private readonly logger = new Logger(MailSender.name);
  private readonly env = loadEnvConfig(MailEnv);
  private readonly transport: Transporter;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly sent: Counter<'kind' | 'result'>;
  private closed = false;

  constructor(metrics: MetricsService) {
    this.transport = createTransport({
      host: this.env.SOVREN_AUTH_SMTP_HOST,
      port: this.env.SOVREN_AUTH_SMTP_PORT,
      secure: false,
      // The relay is on this machine: the message never crosses a network, and a local relay's self-signed
      // STARTTLS certificate must not make every notice fail.
      ignoreTLS: LOOPBACK.has(this.env.SOVREN_AUTH_SMTP_HOST),
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 10_000,
    });
    this.sent = metrics.counter({
      name: 'sovren_auth_mail_total',
      help: 'Security notice mails by kind and result (sent, retried, failed).',
      labelNames: ['kind', 'result'],
    });
  }

  /** Queues the message; never throws and never blocks the caller. */
  send(message: MailMessage): void {
    if (this.closed) {
      this.logger.warn({ msg: 'mail not sent: shutting down', kind: message.kind });
      return;
    }
    this.attempt(message, 1, this.env.SOVREN_AUTH_MAIL_RETRY_DELAY_MS);
  }

  private attempt(message: MailMessage, attempt: number, delayMs: number): void {
    const delivery = this.transport
      .sendMail({ from: this.env.SOVREN_AUTH_MAIL_FROM, to: message.to, subject: message.subject, text: message.text })
      .then(
        () => {
          this.sent.inc({ kind: message.kind, result: 'sent' });
          this.logger.log({ msg: 'security notice sent', kind: message.kind, attempt });
        },
        (error: unknown) => {
          const reason = error instanceof Error ? error.message : String(error);
          if (this.closed || attempt >= this.env.SOVREN_AUTH_MAIL_ATTEMPTS) {
            this.sent.inc({ kind: message.kind, result: 'failed' });
            this.logger.error({ msg: 'security notice could not be sent; giving up', kind: message.kind, attempt, reason });
            return;
          }
          this.sent.inc({ kind: message.kind, result: 'retried' });
          this.logger.warn({ msg: 'security notice failed; will retry', kind: message.kind, attempt, retry_in_ms: delayMs, reason });
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.attempt(message, attempt + 1, delayMs * 2);
          }, delayMs);
          timer.unref();
          this.timers.add(timer);
        },
      )
      .finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
    this.transport.close();
  }
}
