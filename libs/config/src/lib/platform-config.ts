// The typed, validated platform configuration every service receives (injected by ConfigModule, keyed by this
// class). loadPlatformConfig is the only place that turns the environment into it.
import { join } from 'node:path';

import { ConfigProblem, ConfigValidationError } from './config-validation.error';
import { loadEnvConfig } from './env-config.loader';
import { EGRESS_ALLOWLIST_NONE, splitAllowlist } from './env-variable.decorators';
import { LogLevel, NodeEnv, PlatformEnv } from './platform-env';
import { readPlatformVersion } from './platform-version';
import { SERVICE_NAMES, ServiceName } from './service-names';

export const SQLITE_DATABASES = ['users', 'api_auth', 'applications', 'phone_numbers'] as const;
export type SqliteDatabaseName = (typeof SQLITE_DATABASES)[number];

export interface PlatformPaths {
  readonly root: string;
  readonly data: string;
  readonly logs: string;
  readonly models: { readonly llms: string; readonly whisper: string; readonly tts: string };
}

export interface PlatformConfigFields {
  env: NodeEnv;
  version: string;
  sovrenRoot: string;
  host: string;
  natsUrl: string;
  /** max_bytes of JetStream stream USAGE (SOVREN_NATS_USAGE_MAX_BYTES); optional for callers built by hand. */
  natsUsageMaxBytes?: number;
  /** NATS user and password of this service (SOVREN_NATS_USER / _PASSWORD); absent: anonymous. */
  natsUser?: string;
  natsPassword?: string;
  databaseUrl: string;
  ports: Record<ServiceName, number>;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  egressAllowlist: string[];
}

export class PlatformConfig {
  readonly env: NodeEnv;
  readonly version: string;
  readonly sovrenRoot: string;
  readonly host: string;
  readonly natsUrl: string;
  readonly natsUsageMaxBytes: number | undefined;
  readonly natsUser: string | undefined;
  readonly natsPassword: string | undefined;
  readonly databaseUrl: string;
  readonly ports: Readonly<Record<ServiceName, number>>;
  readonly logLevel: LogLevel;
  readonly shutdownTimeoutMs: number;
  /** Normalised (lower-case) `host` or `host:port` entries; see @sovren/egress for how they match. */
  readonly egressAllowlist: string[];
  readonly paths: PlatformPaths;

  constructor(fields: PlatformConfigFields) {
    this.env = fields.env;
    this.version = fields.version;
    this.sovrenRoot = fields.sovrenRoot;
    this.host = fields.host;
    this.natsUrl = fields.natsUrl;
    this.natsUsageMaxBytes = fields.natsUsageMaxBytes;
    this.natsUser = fields.natsUser;
    this.natsPassword = fields.natsPassword;
    this.databaseUrl = fields.databaseUrl;
    this.ports = Object.freeze({ ...fields.ports });
    this.logLevel = fields.logLevel;
    this.shutdownTimeoutMs = fields.shutdownTimeoutMs;
    this.egressAllowlist = [...fields.egressAllowlist];
    const root = fields.sovrenRoot;
    this.paths = Object.freeze({
      root,
      data: join(root, 'data'),
      logs: join(root, 'logs'),
      models: Object.freeze({
        llms: join(root, 'models', 'llms'),
        whisper: join(root, 'models', 'whisper'),
        tts: join(root, 'models', 'tts'),
      }),
    });
  }

  /** `<root>/data/<db>.db`: where each isolated SQLite database lives. */
  sqlitePath(db: SqliteDatabaseName): string {
    return join(this.paths.data, `${db}.db`);
  }
}

/** Validates the shared variables in `env` and builds the configuration; throws ConfigValidationError. */
export function loadPlatformConfig(env: NodeJS.ProcessEnv = process.env): PlatformConfig {
  let loaded: PlatformEnv | undefined;
  const problems: ConfigProblem[] = [];
  try {
    loaded = loadEnvConfig(PlatformEnv, env);
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    problems.push(...error.problems);
  }
  if (loaded) problems.push(...portCollisions(loaded), ...natsCredentialProblems(loaded));
  if (!loaded || problems.length > 0) throw new ConfigValidationError(problems);

  const allowlist = loaded.SOVREN_EGRESS_ALLOWLIST.trim();
  return new PlatformConfig({
    env: loaded.NODE_ENV as NodeEnv,
    version: loaded.SOVREN_VERSION ?? readPlatformVersion(),
    sovrenRoot: loaded.SOVREN_ROOT,
    host: loaded.SOVREN_HOST,
    natsUrl: loaded.SOVREN_NATS_URL,
    natsUsageMaxBytes: loaded.SOVREN_NATS_USAGE_MAX_BYTES,
    natsUser: loaded.SOVREN_NATS_USER,
    natsPassword: loaded.SOVREN_NATS_PASSWORD,
    databaseUrl: loaded.SOVREN_DATABASE_URL,
    ports: servicePorts(loaded),
    logLevel: loaded.SOVREN_LOG_LEVEL as LogLevel,
    shutdownTimeoutMs: loaded.SOVREN_SHUTDOWN_TIMEOUT_MS,
    egressAllowlist: allowlist === EGRESS_ALLOWLIST_NONE ? [] : [...new Set(splitAllowlist(allowlist))],
  });
}

export function portVariable(service: ServiceName): `SOVREN_${Uppercase<ServiceName>}_PORT` {
  return `SOVREN_${service.toUpperCase() as Uppercase<ServiceName>}_PORT`;
}

function servicePorts(env: PlatformEnv): Record<ServiceName, number> {
  return {
    auth: env.SOVREN_AUTH_PORT,
    billing: env.SOVREN_BILLING_PORT,
    voice: env.SOVREN_VOICE_PORT,
    inference: env.SOVREN_INFERENCE_PORT,
    monitoring: env.SOVREN_MONITORING_PORT,
  };
}

// Two services on one port would fail later with EADDRINUSE naming neither variable; say it up front.
/** A NATS user without its password (or the reverse) is a half-done configuration, not anonymous access. */
function natsCredentialProblems(env: PlatformEnv): ConfigProblem[] {
  if ((env.SOVREN_NATS_USER === undefined) === (env.SOVREN_NATS_PASSWORD === undefined)) return [];
  return env.SOVREN_NATS_USER === undefined
    ? [{ variable: 'SOVREN_NATS_USER', message: 'must be set when SOVREN_NATS_PASSWORD is' }]
    : [{ variable: 'SOVREN_NATS_PASSWORD', message: 'must be set when SOVREN_NATS_USER is' }];
}

function portCollisions(env: PlatformEnv): ConfigProblem[] {
  const ports = servicePorts(env);
  const firstByPort = new Map<number, ServiceName>();
  const problems: ConfigProblem[] = [];
  for (const service of SERVICE_NAMES) {
    const first = firstByPort.get(ports[service]);
    if (first === undefined) {
      firstByPort.set(ports[service], service);
    } else {
      problems.push({
        variable: portVariable(service),
        message: `must differ from ${portVariable(first)} (both are ${ports[service]})`,
      });
    }
  }
  return problems;
}
