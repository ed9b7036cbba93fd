// @sovren/http: the HTTP conventions of every SOVREN service (envelope, errors, validation, request ids).
export { RAW_RESPONSE_KEY, RawResponse } from '@sovren/observability';
export * from './lib/assert-unreachable';
export * from './lib/api-error-code';
export * from './lib/api-error';
export * from './lib/api-envelope';
export * from './lib/api-exception.filter';
export * from './lib/response-envelope.interceptor';
export * from './lib/validation.pipe';
export * from './lib/request-id.middleware';
export * from './lib/http-platform';
