// Local mail relay settings: security notices go to an SMTP server on this machine (never a mail API).
import { IsIntegerInRange, IsBindHost, ToInteger } from '@sovren/config';
import { Length } from 'class-validator';

export class MailEnv {
  @IsBindHost()
  SOVREN_AUTH_SMTP_HOST = 'localhost';

  @ToInteger()
  @IsIntegerInRange(1, 65_535)
  SOVREN_AUTH_SMTP_PORT = 25;

  @Length(3, 320)
  SOVREN_AUTH_MAIL_FROM = 'SOVREN <no-reply@localhost>';

  /** Attempts per message before it is given up (logged as an error). */
  @ToInteger()
  @IsIntegerInRange(1, 20)
  SOVREN_AUTH_MAIL_ATTEMPTS = 5;

  /** Delay before the first retry; doubles after each failure. */
  @ToInteger()
  @IsIntegerInRange(10, 600_000)
  SOVREN_AUTH_MAIL_RETRY_DELAY_MS = 2_000;
}
