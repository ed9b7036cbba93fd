// @sovren/skyetel: the Skyetel REST client (phone numbers, SIP endpoints; never SMS) over the egress client. The
// Skyetel stand-in server for tests is at @sovren/skyetel/testing.
export * from './lib/skyetel.errors';
export * from './lib/skyetel.types';
export * from './lib/skyetel.rate-limiter';
export * from './lib/skyetel.client';
