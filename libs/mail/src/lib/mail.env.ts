// The one set of mail variables every SOVREN app reads: mail goes to an SMTP relay on this machine (the host's
// MTA, never a mail API), retried in the background.
import { IsBindHost, IsIntegerInRange, ToInteger } from '@sovren/config';
import { Length } from 'class-validator';

export class MailEnv {
  /** The local SMTP relay. */
  @IsBindHost()
  SOVREN_MAIL_HOST = 'localhost';

  @ToInteger()
  @IsIntegerInRange(1, 65_535)
  SOVREN_MAIL_PORT = 25;

  /** Sender of every SOVREN mail (`Name <user@host>` or `user@host`). */
  @Length(3, 320)
  SOVREN_MAIL_FROM = 'SOVREN <sovren@localhost>';

  /** Attempts per message before it is given up (logged as an error). */
  @ToInteger()
  @IsIntegerInRange(1, 20)
  SOVREN_MAIL_ATTEMPTS = 8;

  /** Delay before the first retry; doubles after each failure up to SOVREN_MAIL_MAX_RETRY_DELAY_MS. */
  @ToInteger()
  @IsIntegerInRange(10, 600_000)
  SOVREN_MAIL_RETRY_DELAY_MS = 1_000;

  @ToInteger()
  @IsIntegerInRange(10, 3_600_000)
  SOVREN_MAIL_MAX_RETRY_DELAY_MS = 60_000;

  /** Messages waiting at most while the relay is unreachable; further ones are dropped and logged. */
  @ToInteger()
  @IsIntegerInRange(1, 100_000)
  SOVREN_MAIL_QUEUE_LIMIT = 1_000;
}

/**
 * Variables the apps read before libs/mail existed. They are no longer read; one warning names each one still
 * set, so an operator's old setting does not vanish silently.
 */
export const RETIRED_MAIL_VARIABLES: Readonly<Record<string, keyof MailEnv>> = {
  SOVREN_AUTH_SMTP_HOST: 'SOVREN_MAIL_HOST',
  SOVREN_AUTH_SMTP_PORT: 'SOVREN_MAIL_PORT',
  SOVREN_AUTH_MAIL_FROM: 'SOVREN_MAIL_FROM',
  SOVREN_AUTH_MAIL_ATTEMPTS: 'SOVREN_MAIL_ATTEMPTS',
  SOVREN_AUTH_MAIL_RETRY_DELAY_MS: 'SOVREN_MAIL_RETRY_DELAY_MS',
  SOVREN_ALERT_SMTP_HOST: 'SOVREN_MAIL_HOST',
  SOVREN_ALERT_SMTP_PORT: 'SOVREN_MAIL_PORT',
  SOVREN_ALERT_MAIL_FROM: 'SOVREN_MAIL_FROM',
};

export function retiredMailVariablesSet(
  env: NodeJS.ProcessEnv = process.env,
): Array<{ variable: string; replacement: string }> {
  return Object.entries(RETIRED_MAIL_VARIABLES)
    .filter(([variable]) => (env[variable] ?? '').trim() !== '')
    .map(([variable, replacement]) => ({ variable, replacement }));
}
