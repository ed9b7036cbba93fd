// @sovren/config: the typed, validated configuration of every SOVREN process. A test configuration is at
// @sovren/config/testing.
export * from './lib/service-names';
export * from './lib/config-validation.error';
export * from './lib/env-config.loader';
export {
  SecretVariable,
  ToInteger,
  IsIntegerInRange,
  IsOneOf,
  IsUrlWithScheme,
  IsAbsolutePath,
  IsBindHost,
  IsEgressAllowlist,
  EGRESS_ALLOWLIST_NONE,
} from './lib/env-variable.decorators';
export * from './lib/platform-env';
export * from './lib/platform-version';
export * from './lib/platform-config';
export * from './lib/config.module';
