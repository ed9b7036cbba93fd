// @sovren/killbill/testing: for tests and benchmarks only — a strict local Kill Bill stand-in server that speaks
// the same REST API as Kill Bill. Never imported by an app's production code.
export * from './killbill-stand-in.server';
