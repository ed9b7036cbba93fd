// @sovren/auth-guard: the guard every SOVREN app puts in front of its /api routes. One `auth.validate` call per
// request (identity, scopes, tier, rate-limit decision), a short cache of positive answers, dropped on
// `auth.revoked`.
export * from './lib/auth-route.decorator';
export * from './lib/current-auth.decorator';
export * from './lib/request-credential';
export * from './lib/validation-cache';
export * from './lib/sovren-auth.guard';
export * from './lib/auth-guard.options';
export * from './lib/auth-guard.module';
