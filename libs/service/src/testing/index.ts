// @sovren/service/testing: for specs only — checks a service's OpenAPI document (valid, complete, snapshot).
export * from './openapi-check';
