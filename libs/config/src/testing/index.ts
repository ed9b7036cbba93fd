// @sovren/config/testing: for tests and benchmarks only — a validated platform configuration with test defaults.
export * from './test-platform-config';
