// @sovren/egress/testing: for tests only — a local HTTP server on loopback for the egress client to call.
export * from './local-test-server';
