import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsOptional } from 'class-validator';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigModule } from '../config.module';
import { ConfigValidationError } from '../config-validation.error';
import { loadEnvConfig } from '../env-config.loader';
import { IsIntegerInRange, SecretVariable, ToInteger, IsUrlWithScheme } from '../env-variable.decorators';
import { DEFAULT_EGRESS_ALLOWLIST } from '../platform-env';
import { loadPlatformConfig, PlatformConfig } from '../platform-config';
import { readPlatformVersion, UNKNOWN_VERSION } from '../platform-version';

function validationErrorOf(run: () => unknown): ConfigValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigValidationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigValidationError, but loading succeeded');
}

describe('loadPlatformConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadPlatformConfig({});

    expect(config.env).toBe('development');
    expect(config.sovrenRoot).toBe('/data/sovren');
    expect(config.host).toBe('127.0.0.1');
    expect(config.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(config.databaseUrl).toBe('postgres://sovren@127.0.0.1:5432/sovren');
    expect(config.ports).toEqual({ auth: 3101, billing: 3102, voice: 3103, inference: 3104, monitoring: 3105 });
    expect(config.logLevel).toBe('info');
    expect(config.shutdownTimeoutMs).toBe(10_000);
    expect(config.egressAllowlist).toEqual(DEFAULT_EGRESS_ALLOWLIST);
    expect(config.paths).toEqual({
      root: '/data/sovren',
      data: '/data/sovren/data',
      logs: '/data/sovren/logs',
      models: {
        llms: '/data/sovren/models/llms',
        whisper: '/data/sovren/models/whisper',
        tts: '/data/sovren/models/tts',
      },
    });
  });

  it('reads the version from the root package.json unless SOVREN_VERSION overrides it', () => {
    const rootPackage = JSON.parse(readFileSync(join(__dirname, '../../../../../package.json'), 'utf8')) as {
      version: string;
    };

    expect(loadPlatformConfig({}).version).toBe(rootPackage.version);
    expect(loadPlatformConfig({ SOVREN_VERSION: '9.9.9-rc1' }).version).toBe('9.9.9-rc1');
  });

  it('finds the root package.json by walking up, skipping other packages', () => {
    const root = mkdtempSync(join(tmpdir(), 'sovren-version-'));
    try {
      writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@sovren/source', version: '4.5.6' }));
      mkdirSync(join(root, 'dist', 'libs', 'config'), { recursive: true });
      writeFileSync(
        join(root, 'dist', 'libs', 'config', 'package.json'),
        JSON.stringify({ name: '@sovren/config', version: '0.0.1' }),
      );

      expect(readPlatformVersion([join(root, 'dist', 'libs', 'config')])).toBe('4.5.6');
      expect(readPlatformVersion([tmpdir()])).toBe(UNKNOWN_VERSION);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('takes every variable from the environment when set', () => {
    const config = loadPlatformConfig({
      NODE_ENV: 'production',
      SOVREN_ROOT: '/srv/sovren',
      SOVREN_HOST: '0.0.0.0',
      SOVREN_NATS_URL: 'nats://10.0.0.5:4333',
      SOVREN_DATABASE_URL: 'postgresql://sovren:s3cret@db.local:5433/sovren',
      SOVREN_AUTH_PORT: '4101',
      SOVREN_BILLING_PORT: '4102',
      SOVREN_VOICE_PORT: '4103',
      SOVREN_INFERENCE_PORT: '4104',
      SOVREN_MONITORING_PORT: '4105',
      SOVREN_LOG_LEVEL: 'debug',
      SOVREN_SHUTDOWN_TIMEOUT_MS: '2500',
      SOVREN_EGRESS_ALLOWLIST: ' API.Skyetel.com , 127.0.0.1:9000,[::1]:8443 ',
    });

    expect(config.env).toBe('production');
    expect(config.paths.models.whisper).toBe('/srv/sovren/models/whisper');
    expect(config.host).toBe('0.0.0.0');
    expect(config.natsUrl).toBe('nats://10.0.0.5:4333');
    expect(config.databaseUrl).toBe('postgresql://sovren:s3cret@db.local:5433/sovren');
    expect(config.ports).toEqual({ auth: 4101, billing: 4102, voice: 4103, inference: 4104, monitoring: 4105 });
    expect(config.logLevel).toBe('debug');
    expect(config.shutdownTimeoutMs).toBe(2500);
    expect(config.egressAllowlist).toEqual(['api.skyetel.com', '127.0.0.1:9000', '[::1]:8443']);
  });

  it('treats an empty value as unset and "none" as an empty allowlist', () => {
    expect(loadPlatformConfig({ SOVREN_AUTH_PORT: '', SOVREN_EGRESS_ALLOWLIST: '' }).ports.auth).toBe(3101);
    expect(loadPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: '' }).egressAllowlist).toEqual(DEFAULT_EGRESS_ALLOWLIST);
    expect(loadPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: 'none' }).egressAllowlist).toEqual([]);
  });

  it('reports every bad variable together in one message', () => {
    const error = validationErrorOf(() =>
      loadPlatformConfig({
        NODE_ENV: 'staging',
        SOVREN_ROOT: 'relative/dir',
        SOVREN_HOST: 'http://0.0.0.0',
        SOVREN_NATS_URL: 'http://127.0.0.1:4222',
        SOVREN_DATABASE_URL: 'mysql://root:hunter2@db/sovren',
        SOVREN_AUTH_PORT: 'abc',
        SOVREN_BILLING_PORT: '70000',
        SOVREN_VOICE_PORT: '31.5',
        SOVREN_LOG_LEVEL: 'trace',
        SOVREN_SHUTDOWN_TIMEOUT_MS: '0',
        SOVREN_EGRESS_ALLOWLIST: 'api.skyetel.com,https://evil.example/path,*.google.com',
      }),
    );

    expect(error.problems.map((problem) => problem.variable)).toEqual([
      'NODE_ENV',
      'SOVREN_ROOT',
      'SOVREN_HOST',
      'SOVREN_NATS_URL',
      'SOVREN_DATABASE_URL',
      'SOVREN_AUTH_PORT',
      'SOVREN_BILLING_PORT',
      'SOVREN_VOICE_PORT',
      'SOVREN_LOG_LEVEL',
      'SOVREN_SHUTDOWN_TIMEOUT_MS',
      'SOVREN_EGRESS_ALLOWLIST',
    ]);
    expect(error.message).toContain('Invalid configuration:\n');
    expect(error.message).toContain('  NODE_ENV: must be one of development, production, test (got "staging")');
    expect(error.message).toContain('  SOVREN_AUTH_PORT: must be an integer 1-65535 (got "abc")');
    expect(error.message).toContain('  SOVREN_BILLING_PORT: must be an integer 1-65535 (got "70000")');
    expect(error.message).toContain('  SOVREN_NATS_URL: must be a nats:// URL with a host');
    expect(error.message).toContain('https://evil.example/path');
    expect(error.message).toContain('*.google.com');
    // The database URL may carry a password: it is named, never echoed.
    expect(error.message).toContain('SOVREN_DATABASE_URL: must be a postgres:// or postgresql:// URL with a host');
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses two services on the same port, naming both variables', () => {
    const error = validationErrorOf(() => loadPlatformConfig({ SOVREN_VOICE_PORT: '3101' }));

    expect(error.problems).toEqual([
      { variable: 'SOVREN_VOICE_PORT', message: 'must differ from SOVREN_AUTH_PORT (both are 3101)' },
    ]);
  });

  it('reads the NATS user and password together, anonymous when neither is set, never echoing the password', () => {
    expect(loadPlatformConfig({})).toMatchObject({ natsUser: undefined, natsPassword: undefined });
    expect(loadPlatformConfig({ SOVREN_NATS_USER: 'billing', SOVREN_NATS_PASSWORD: 's3cret' })).toMatchObject({
      natsUser: 'billing',
      natsPassword: 's3cret',
    });
    expect(validationErrorOf(() => loadPlatformConfig({ SOVREN_NATS_PASSWORD: 's3cret' })).problems).toEqual([
      { variable: 'SOVREN_NATS_USER', message: 'must be set when SOVREN_NATS_PASSWORD is' },
    ]);
    const longSecret = 'hunter2'.repeat(40);
    const error = validationErrorOf(() =>
      loadPlatformConfig({ SOVREN_NATS_USER: 'no.dots', SOVREN_NATS_PASSWORD: longSecret }),
    );
    expect(error.problems.map((problem) => problem.variable).sort()).toEqual([
      'SOVREN_NATS_PASSWORD',
      'SOVREN_NATS_USER',
    ]);
    expect(error.message).not.toContain('hunter2');
  });
});

describe('PlatformConfig.sqlitePath', () => {
  it('places each SQLite database under <root>/data', () => {
    const config = loadPlatformConfig({ SOVREN_ROOT: '/tmp/sovren-x' });

    expect(config.sqlitePath('users')).toBe('/tmp/sovren-x/data/users.db');
    expect(config.sqlitePath('api_auth')).toBe('/tmp/sovren-x/data/api_auth.db');
    expect(config.sqlitePath('applications')).toBe('/tmp/sovren-x/data/applications.db');
    expect(config.sqlitePath('phone_numbers')).toBe('/tmp/sovren-x/data/phone_numbers.db');
  });
});

class VoiceEnv {
  @ToInteger()
  @IsIntegerInRange(1, 600)
  SKYETEL_RATE_LIMIT_PER_MINUTE = 120;

  @IsOptional()
  @SecretVariable()
  @IsUrlWithScheme(['https:'])
  SKYETEL_API_URL?: string;
}

describe('loadEnvConfig', () => {
  it('validates a service-specific class the same way, hiding secret values', () => {
    expect(loadEnvConfig(VoiceEnv, {}).SKYETEL_RATE_LIMIT_PER_MINUTE).toBe(120);

    const error = validationErrorOf(() =>
      loadEnvConfig(VoiceEnv, { SKYETEL_RATE_LIMIT_PER_MINUTE: '9000', SKYETEL_API_URL: 'ftp://token@x' }),
    );
    expect(error.message).toBe(
      'Invalid configuration:\n' +
        '  SKYETEL_RATE_LIMIT_PER_MINUTE: must be an integer 1-600 (got "9000")\n' +
        '  SKYETEL_API_URL: must be a https:// URL with a host (value hidden: it may hold a secret)',
    );
  });

  it('ignores variables the class does not declare', () => {
    const loaded = loadEnvConfig(VoiceEnv, { PATH: '/usr/bin', SKYETEL_RATE_LIMIT_PER_MINUTE: '60' });

    expect(loaded).toEqual({ SKYETEL_RATE_LIMIT_PER_MINUTE: 60 });
  });
});

@Injectable()
class NeedsConfig {
  constructor(readonly config: PlatformConfig) {}
}

describe('ConfigModule', () => {
  it('provides the given PlatformConfig globally, keyed by its class', async () => {
    const config = loadPlatformConfig({ SOVREN_ROOT: '/tmp/sovren-module' });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config)],
      providers: [NeedsConfig],
    }).compile();

    expect(moduleRef.get(NeedsConfig).config).toBe(config);
    await moduleRef.close();
  });
});
