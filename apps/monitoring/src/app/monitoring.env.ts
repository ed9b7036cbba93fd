// The monitoring service's own environment variables (alert mail, thresholds, nvidia-smi), validated at start-up.
import { IsAbsolutePath, IsIntegerInRange, ToInteger } from '@sovren/config';
import { IsOptional, Length, ValidateBy, ValidationOptions } from 'class-validator';

const EMAIL = /^[^\s@,<>]+@[^\s@,<>]+$/;

export function splitRecipients(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** A comma-separated list of plain e-mail addresses (may be empty: no alert mail). */
function IsRecipientList(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isRecipientList',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && splitRecipients(value).every((entry) => EMAIL.test(entry)),
        defaultMessage: () => 'must be a comma-separated list of e-mail addresses (user@host)',
      },
    },
    options,
  );
}

function IsMailAddress(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isMailAddress',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && EMAIL.test(value),
        defaultMessage: () => 'must be an e-mail address (user@host)',
      },
    },
    options,
  );
}

export class MonitoringEnv {
  /** The local SMTP server alert mail is handed to (the host's MTA). */
  @Length(1, 253, { message: 'must be a host name or address' })
  SOVREN_ALERT_SMTP_HOST = 'localhost';

  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_ALERT_SMTP_PORT = 25;

  @IsMailAddress()
  SOVREN_ALERT_MAIL_FROM = 'sovren-monitoring@localhost';

  /** Operators who receive alert mail; empty: alerts are only published on NATS, logged and stored. */
  @IsRecipientList()
  SOVREN_ALERT_RECIPIENTS = '';

  /** DiskNearlyFull fires when the file system holding SOVREN_ROOT is fuller than this (percent). */
  @ToInteger()
  @IsIntegerInRange(1, 100)
  SOVREN_ALERT_DISK_USED_PERCENT = 90;

  /** HighErrorRate fires when more than this share of a service's requests over 5 minutes answered 5xx (percent). */
  @ToInteger()
  @IsIntegerInRange(1, 100)
  SOVREN_ALERT_ERROR_RATE_PERCENT = 5;

  @ToInteger()
  @IsIntegerInRange(1, 150)
  SOVREN_ALERT_GPU_TEMPERATURE_CELSIUS = 85;

  @ToInteger()
  @IsIntegerInRange(1, 100)
  SOVREN_ALERT_GPU_MEMORY_USED_PERCENT = 95;

  /** nvidia-smi to query for GPU metrics; unset: looked up on PATH (absent on hosts without an NVIDIA GPU). */
  @IsOptional()
  @IsAbsolutePath()
  SOVREN_NVIDIA_SMI_PATH?: string;
}

export const MONITORING_ENV = Symbol('MONITORING_ENV');
