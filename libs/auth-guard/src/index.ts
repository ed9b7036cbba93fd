// @sovren/auth-guard: the guard every SOVREN app puts in front of its /api routes. One `auth.validate` call per
// request (identity, scopes, tier, rate-limit decision), a short cache of positive answers, dropped on
// `auth.revoked`; the scope catalogue; the CSRF check for cookie sessions; the trusted-proxy setting.
export * from './lib/scopes';
export * from './lib/auth-guard.env';
export * from './lib/auth-route.rules';
export * from './lib/auth-route.audit';
export * from './lib/cross-site-write';
export * from './lib/auth-route.decorator';
export * from './lib/current-auth.decorator';
export * from './lib/request-credential';
export * from './lib/validation-cache';
export * from './lib/sovren-auth.guard';
export * from './lib/auth-guard.options';
export * from './lib/auth-guard.module';
