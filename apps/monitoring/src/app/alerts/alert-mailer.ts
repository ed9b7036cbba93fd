// Mails firing and resolved alerts to the configured operators through @sovren/mail's sender (local SMTP relay,
// bounded retry queue), so a slow or failing mail server never blocks evaluation.
import { Logger } from '@nestjs/common';
import { MailMessage, MailSender } from '@sovren/mail';
import { AlertV1 } from '@sovren/messaging';

export interface AlertMailerOptions {
  recipients: string[];
  /** Platform host name shown in the subject, so operators of several machines know which one. */
  origin: string;
}

export class AlertMailer {
  private readonly logger = new Logger(AlertMailer.name);

  constructor(
    private readonly mail: MailSender,
    private readonly options: AlertMailerOptions,
  ) {
    if (options.recipients.length === 0) {
      this.logger.log({ msg: 'SOVREN_ALERT_RECIPIENTS is empty: alerts are published on NATS and stored, not mailed' });
    }
  }

  send(alert: AlertV1): void {
    if (this.options.recipients.length === 0) return;
    this.mail.send(alertMail(alert, this.options));
  }
}

export function alertMail(alert: AlertV1, options: AlertMailerOptions): MailMessage {
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
    kind: 'alert',
    to: options.recipients,
    subject: `${tag} SOVREN ${alert.rule}${alert.service ? ` ${alert.service}` : ''} on ${options.origin}`,
    text: lines.join('\n'),
    headers: { 'X-Sovren-Alert': alert.fingerprint, 'X-Sovren-Alert-State': alert.state },
  };
}
