// @sovren/messaging/testing: for tests and benchmarks only — stand-ins for the other side of a contract.
export * from './auth-validate.responder';
