// @sovren/testing: helpers for tests only (real servers on loopback).
export * from './lib/collecting.logger';
export * from './lib/free-port';
export * from './lib/local-smtp.server';
export * from './lib/nats-test.server';
export * from './lib/throwaway-postgres';
