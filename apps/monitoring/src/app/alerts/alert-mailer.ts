// Mails firing and resolved alerts to the configured operators through the local SMTP server. Sending happens
// on a retry queue, so a slow or failing mail server never blocks evaluation; failures are logged and retried.
import { Logger } from '@nestjs/common';
import { AlertV1 } from '@sovren/messaging';
import { createTransport, Transporter } from 'nodemailer';

import { RetryQueue } from './retry-queue';

export interface AlertMailerOptions {
  host: string;
  port: number;
  from: string;
  recipients: string[];
  /** Platform host name shown in the subject, so operators of several machines know which one. */
  origin: string;
}

export class AlertMailer {
  private readonly logger = new Logger(AlertMailer.name);
  private readonly transport: Transporter | undefined;
  readonly queue = new RetryQueue({ name: 'AlertMailQueue', maxAttempts: 8, firstDelayMs: 1_000, maxDelayMs: 60_000 });

  constructor(private readonly options: AlertMailerOptions) {
    if (options.recipients.length === 0) {
      this.logger.log({ msg: 'SOVREN_ALERT_RECIPIENTS is empty: alerts are published on NATS and stored, not mailed' });
      return;
    }
    this.transport = createTransport({
      host: options.host,
      port: options.port,
      secure: false,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  send(alert: AlertV1): void {
    const transport = this.transport;
    if (!transport) return;
    const message = alertMail(alert, this.options);
    this.queue.push(`mail ${alert.state} ${alert.fingerprint}`, async () => {
      await transport.sendMail(message);
    });
  }

  close(): void {
    this.queue.close();
    this.transport?.close();
  }
}

export function alertMail(alert: AlertV1, options: Pick<AlertMailerOptions, 'from' | 'recipients' | 'origin'>) {
  const tag = alert.state === 'firing' ? `[FIRING ${alert.severity}]` : '[RESOLVED]';
  const lines = [
    `${alert.state === 'firing' ? 'Firing' : 'Resolved'}: ${alert.summary}`,
    '',
    `rule:        ${alert.rule}`,
    `severity:    ${alert.severity}`,
    ...(alert.service ? [`service:     ${alert.service}`] : []),
    `fingerprint: ${alert.fingerprint}`,
    `started:     ${alert.startsAt}`,
    ...(alert.endsAt ? [`resolved:    ${alert.endsAt}`] : []),
    `host:        ${options.origin}`,
    '',
    'Platform status: GET /api/v1/status on the monitoring service.',
  ];
  return {
    from: options.from,
    to: options.recipients,
    subject: `${tag} SOVREN ${alert.rule}${alert.service ? ` ${alert.service}` : ''} on ${options.origin}`,
    text: lines.join('\n'),
    headers: { 'X-Sovren-Alert': alert.fingerprint, 'X-Sovren-Alert-State': alert.state },
  };
}
