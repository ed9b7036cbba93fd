// @sovren/killbill: the Kill Bill REST client (through the egress client) and, for tests and benchmarks, a strict
// local Kill Bill stand-in server that speaks the same API.
export * from './lib/killbill.errors';
export * from './lib/killbill.types';
export * from './lib/killbill.transport';
export * from './lib/killbill.client';
export * from './testing/killbill-stand-in.server';
