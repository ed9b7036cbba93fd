// What a guarded route must declare: at least one scope from the catalogue, or `allowAnonymous` for a public
// route (which then requires none). Used by the start-up audit and, as a backstop, by the guard on each request.
import type { AuthRouteOptions } from './auth-guard.options';
import { isScope } from './scopes';

/** Problems of one route's declaration (empty when it is fine). */
export function authRouteProblems(options: AuthRouteOptions | undefined): string[] {
  if (!options) return ['is behind SovrenAuthGuard without @AuthRoute (say its scopes, or allowAnonymous)'];
  const scopes: readonly string[] = options.scopes ?? [];
  const problems = scopes.filter((scope) => !isScope(scope)).map((scope) => `names unknown scope "${scope}"`);
  if (options.allowAnonymous) {
    if (scopes.length > 0) problems.push('is public (allowAnonymous) yet requires scopes');
  } else if (scopes.length === 0) {
    problems.push('declares no scope: add @AuthRoute({ scopes: [...] }), or allowAnonymous for a public route');
  }
  if (options.rateLimitedByRoute && !options.allowAnonymous) problems.push('rateLimitedByRoute needs allowAnonymous');
  return problems;
}
