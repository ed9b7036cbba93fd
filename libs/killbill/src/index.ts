// @sovren/killbill: the Kill Bill REST client (through the egress client). The Kill Bill stand-in server for tests
// and benchmarks is at @sovren/killbill/testing.
export * from './lib/killbill.errors';
export * from './lib/killbill.types';
export * from './lib/killbill.transport';
export * from './lib/killbill.client';
