// @sovren/egress: the one outbound HTTP client; it refuses every host not on the configured allowlist. Its local
// test server is at @sovren/egress/testing.
export * from './lib/egress.errors';
export * from './lib/egress-allowlist';
export * from './lib/egress.response';
export * from './lib/egress.client';
export * from './lib/egress.module';
