// The shared environment variables of every SOVREN process, one decorated property per variable, with the
// defaults a fresh install runs with. Read them through PlatformConfig, never from process.env directly.
import { IsOptional, Length, Matches } from 'class-validator';

import {
  IsAbsolutePath,
  IsBindHost,
  IsEgressAllowlist,
  IsIntegerInRange,
  IsOneOf,
  IsUrlWithScheme,
  SecretVariable,
  ToInteger,
} from './env-variable.decorators';

export const NODE_ENVS = ['development', 'production', 'test'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The only outside hosts a fresh install may reach: Skyetel, Kill Bill, and the OAuth login providers. */
export const DEFAULT_EGRESS_ALLOWLIST: readonly string[] = [
  'api.skyetel.com',
  'localhost:8080',
  'accounts.google.com',
  'oauth2.googleapis.com',
  'openidconnect.googleapis.com',
  'www.googleapis.com',
  'login.microsoftonline.com',
  'graph.microsoft.com',
  'github.com',
  'api.github.com',
];

export class PlatformEnv {
  @IsOneOf(NODE_ENVS)
  NODE_ENV = 'development';

  /** Overrides the version read from the root package.json (set by packaging). */
  @IsOptional()
  @Length(1, 64, { message: 'must be 1-64 characters' })
  SOVREN_VERSION?: string;

  @IsAbsolutePath()
  SOVREN_ROOT = '/data/sovren';

  @IsBindHost()
  SOVREN_HOST = '127.0.0.1';

  @IsUrlWithScheme(['nats:'])
  SOVREN_NATS_URL = 'nats://127.0.0.1:4222';

  /** max_bytes of JetStream stream USAGE: the usage backlog billing has not taken yet (default 2 GiB). */
  @ToInteger()
  @IsIntegerInRange(4_096, 1024 ** 4, { message: 'must be an integer 4096-1099511627776 (bytes)' })
  SOVREN_NATS_USAGE_MAX_BYTES = 2 * 1024 ** 3;

  /** This service's NATS user (tools/nats generates one per service); unset: connect anonymously. */
  @IsOptional()
  @Matches(/^[a-z][a-z0-9_-]{0,63}$/, { message: 'must be 1-64 characters: a-z, 0-9, _ or - (starting with a letter)' })
  SOVREN_NATS_USER?: string;

  /** The NATS user's password (with SOVREN_NATS_USER). */
  @SecretVariable()
  @IsOptional()
  @Length(1, 256, { message: 'must be 1-256 characters' })
  SOVREN_NATS_PASSWORD?: string;

  // The password, when there is one, only ever comes from the environment, so the value is never echoed.
  @SecretVariable()
  @IsUrlWithScheme(['postgres:', 'postgresql:'])
  SOVREN_DATABASE_URL = 'postgres://sovren@127.0.0.1:5432/sovren';

  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_AUTH_PORT = 3101;

  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_BILLING_PORT = 3102;

  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_VOICE_PORT = 3103;

  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_INFERENCE_PORT = 3104;

  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_MONITORING_PORT = 3105;

  @IsOneOf(LOG_LEVELS)
  SOVREN_LOG_LEVEL = 'info';

  @ToInteger()
  @IsIntegerInRange(1, 3_600_000, { message: 'must be an integer 1-3600000 (milliseconds)' })
  SOVREN_SHUTDOWN_TIMEOUT_MS = 10_000;

  @IsEgressAllowlist()
  SOVREN_EGRESS_ALLOWLIST: string = DEFAULT_EGRESS_ALLOWLIST.join(',');
}
