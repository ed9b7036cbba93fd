// The monitoring service's own environment variables (alert recipients, thresholds, GPU sources; the mail relay is
// SOVREN_MAIL_* from @sovren/mail), validated at start-up.
import { IsAbsolutePath, IsIntegerInRange, ToInteger } from '@sovren/config';
import { IsOptional, ValidateBy, ValidationOptions } from 'class-validator';

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
        validate: (value: unknown) =>
          typeof value === 'string' && splitRecipients(value).every((entry) => EMAIL.test(entry)),
        defaultMessage: () => 'must be a comma-separated list of e-mail addresses (user@host)',
      },
    },
    options,
  );
}

export class MonitoringEnv {
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

  /** InferenceInterTokenLatencyHigh fires when p99 time between streamed tokens over 5 minutes exceeds this. */
  @ToInteger()
  @IsIntegerInRange(1, 60_000)
  SOVREN_ALERT_INTER_TOKEN_P99_MS = 90;

  /** nvidia-smi to query for GPU metrics; unset: looked up on PATH (absent on hosts without an NVIDIA GPU). */
  @IsOptional()
  @IsAbsolutePath()
  SOVREN_NVIDIA_SMI_PATH?: string;
}

export const MONITORING_ENV = Symbol('MONITORING_ENV');
