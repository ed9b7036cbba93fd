// @sovren/testing: helpers for tests only (real servers on loopback).
export * from './lib/free-port';
export * from './lib/nats-test.server';
