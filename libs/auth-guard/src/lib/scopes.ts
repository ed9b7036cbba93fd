// The scope catalogue: every permission a guarded route can require and a credential can hold, and which scopes
// each role carries. Routes name their scopes with @AuthRoute({ scopes }); auth gives a session the scopes of
// its user's role and an API key the scopes it was created with (never more than its owner's role allows).
import type { AuthRole } from '@sovren/messaging';

export interface ScopeDefinition {
  /** Only the admin role carries it (and only admins can put it on a key). */
  adminOnly: boolean;
  /** What it grants, for docs and error messages. */
  grants: string;
}

export const SCOPE_CATALOGUE = {
  'auth:profile': { adminOnly: false, grants: 'read the signed-in user (GET /api/v1/auth/me)' },
  'auth:sessions': { adminOnly: false, grants: "list and end the user's own sessions" },
  'auth:api_keys': { adminOnly: false, grants: "create, list and revoke the user's own API keys" },
  'inference:generate': { adminOnly: false, grants: 'list models and generate text' },
  'inference:admin': { adminOnly: true, grants: 'load and unload models' },
  'audio:speech': { adminOnly: false, grants: 'synthesise speech (POST /v1/audio/speech)' },
  'audio:transcribe': { adminOnly: false, grants: 'transcribe speech (POST /v1/audio/transcriptions)' },
  'billing:read': { adminOnly: false, grants: "read the owner's plan, account, usage, invoices and payments" },
  'billing:write': { adminOnly: false, grants: 'change or cancel the plan, add payment methods, pay invoices' },
  'billing:admin': { adminOnly: true, grants: "read any owner's billing, upload the catalog" },
  'voice:calls': { adminOnly: false, grants: 'place and manage voice calls' },
  'voice:numbers': { adminOnly: false, grants: 'manage phone numbers' },
  'monitoring:read': { adminOnly: true, grants: 'read firing alerts and the alert history' },
  'organizations:read': { adminOnly: true, grants: 'list and read organizations' },
  'organizations:write': { adminOnly: true, grants: 'create, rename and delete organizations' },
} as const satisfies Record<string, ScopeDefinition>;

export type Scope = keyof typeof SCOPE_CATALOGUE;

export const ALL_SCOPES = Object.keys(SCOPE_CATALOGUE) as Scope[];

export function isScope(value: string): value is Scope {
  return Object.prototype.hasOwnProperty.call(SCOPE_CATALOGUE, value);
}

/** The scopes a session of each role carries: a user every non-admin scope, an admin all of them. */
export const ROLE_SCOPES: Readonly<Record<AuthRole, readonly Scope[]>> = {
  user: ALL_SCOPES.filter((scope) => !SCOPE_CATALOGUE[scope].adminOnly),
  admin: ALL_SCOPES,
};

/** The scopes of `held` that `role` still allows (an API key of a user who lost the admin role loses admin scopes). */
export function scopesAllowedFor(role: AuthRole, held: readonly string[]): Scope[] {
  const allowed = ROLE_SCOPES[role];
  return held.filter((scope): scope is Scope => isScope(scope) && allowed.includes(scope));
}
