// @sovren/testing: helpers for tests only (real servers on loopback, the app starter, waiting, the envelope client).
export * from './lib/auth-store.seed';
export * from './lib/collecting.logger';
export * from './lib/envelope-http.client';
export * from './lib/eventually';
export * from './lib/free-port';
export * from './lib/local-smtp.server';
export * from './lib/nats-test.server';
export * from './lib/nest-test.app';
export * from './lib/owned-process';
export * from './lib/throwaway-postgres';
export * from './lib/baresip-caller';
