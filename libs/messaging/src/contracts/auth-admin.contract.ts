// Requests and replies of the operator's admin subjects `auth.admin.users.*` and `auth.admin.keys.*` (the `sovren`
// CLI and the dev launcher). Only the NATS user `cli` may publish them (tools/nats/nats-permissions.mjs): holding
// its credentials file is having local access to the machine. Auth answers them with its own services (the same
// hashing, limits and notices as the HTTP API-key routes). A user is named by id or by email.

import { AUTH_ROLES, type AuthRole } from './auth-validate.contract';
import { ContractFieldReader } from './contract-field.reader';

export const ADMIN_API_KEY_TIERS = ['authenticated', 'premium'] as const;
export type AdminApiKeyTier = (typeof ADMIN_API_KEY_TIERS)[number];

const MAX_SCOPES = 50;
const SCOPE = /^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export interface AdminUserV1 {
  id: string;
  email: string | null;
  displayName: string;
  role: AuthRole;
}

export interface AdminApiKeyV1 {
  id: string;
  userId: string;
  name: string;
  /** The visible start of the key (`sov_ab12cd34`); the key itself is never stored. */
  prefix: string;
  scopes: string[];
  tier: AdminApiKeyTier;
  rateLimitPerHour: number | null;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** `auth.admin.users.create`: a local user (no OAuth provider), an admin unless `role` says otherwise. */
export interface AuthAdminUsersCreateRequestV1 {
  v: 1;
  email: string;
  displayName?: string;
  role?: AuthRole;
}

/** `auth.admin.users.list`. */
export interface AuthAdminUsersListRequestV1 {
  v: 1;
}

/** `auth.admin.users.promote`: sets the user's role (default `admin`; `user` demotes). */
export interface AuthAdminUsersPromoteRequestV1 {
  v: 1;
  user: string;
  role?: AuthRole;
}

export interface AuthAdminUserReplyV1 {
  v: 1;
  user: AdminUserV1;
}

export interface AuthAdminUsersListReplyV1 {
  v: 1;
  users: AdminUserV1[];
}

/** `auth.admin.keys.create`: an API key for `user`, shown once in the reply. */
export interface AuthAdminKeysCreateRequestV1 {
  v: 1;
  user: string;
  name: string;
  scopes: string[];
  tier?: AdminApiKeyTier;
  expiresAt?: string;
  rateLimitPerHour?: number;
}

export interface AuthAdminKeysCreateReplyV1 {
  v: 1;
  /** The full key: in this reply only, never stored. */
  key: string;
  apiKey: AdminApiKeyV1;
}

/** `auth.admin.keys.list`: the keys of `user`, or of every user. */
export interface AuthAdminKeysListRequestV1 {
  v: 1;
  user?: string;
}

export interface AuthAdminKeysListReplyV1 {
  v: 1;
  keys: AdminApiKeyV1[];
}

/** `auth.admin.keys.revoke`. */
export interface AuthAdminKeysRevokeRequestV1 {
  v: 1;
  id: string;
}

export interface AuthAdminKeyReplyV1 {
  v: 1;
  apiKey: AdminApiKeyV1;
}

function email(r: ContractFieldReader, field: string): string {
  const value = r.string(field, 320);
  if (!EMAIL.test(value)) r.fail(field, `must be an email address (got "${value}")`);
  return value;
}

function scopes(r: ContractFieldReader, raw: unknown): string[] {
  const list = (raw as Record<string, unknown>)['scopes'];
  if (!Array.isArray(list) || list.length === 0) r.fail('scopes', 'must be a non-empty array of scopes');
  if (list.length > MAX_SCOPES) r.fail('scopes', `must hold at most ${MAX_SCOPES} scopes`);
  for (const scope of list) {
    if (typeof scope !== 'string' || !SCOPE.test(scope)) {
      r.fail('scopes', `each scope must look like area:action (got ${JSON.stringify(scope)})`);
    }
  }
  return list as string[];
}

function optionalRole(r: ContractFieldReader, raw: unknown): AuthRole | undefined {
  return (raw as Record<string, unknown>)['role'] === undefined ? undefined : r.oneOf('role', AUTH_ROLES);
}

export function parseAuthAdminUsersCreateRequestV1(raw: unknown): AuthAdminUsersCreateRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('AuthAdminUsersCreateRequestV1', raw);
  const request: AuthAdminUsersCreateRequestV1 = { v: r.version(1), email: email(r, 'email') };
  const displayName = r.optionalString('displayName', 200);
  if (displayName !== undefined) request.displayName = displayName;
  const role = optionalRole(r, raw);
  if (role !== undefined) request.role = role;
  return request;
}

export function parseAuthAdminUsersListRequestV1(raw: unknown): AuthAdminUsersListRequestV1 {
  return { v: new ContractFieldReader('AuthAdminUsersListRequestV1', raw).version(1) };
}

export function parseAuthAdminUsersPromoteRequestV1(raw: unknown): AuthAdminUsersPromoteRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('AuthAdminUsersPromoteRequestV1', raw);
  const request: AuthAdminUsersPromoteRequestV1 = { v: r.version(1), user: r.string('user', 320) };
  const role = optionalRole(r, raw);
  if (role !== undefined) request.role = role;
  return request;
}

export function parseAuthAdminKeysCreateRequestV1(raw: unknown): AuthAdminKeysCreateRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('AuthAdminKeysCreateRequestV1', raw);
  const request: AuthAdminKeysCreateRequestV1 = {
    v: r.version(1),
    user: r.string('user', 320),
    name: r.string('name', 100),
    scopes: scopes(r, raw),
  };
  const record = raw as Record<string, unknown>;
  if (record['tier'] !== undefined) request.tier = r.oneOf('tier', ADMIN_API_KEY_TIERS);
  if (record['expiresAt'] !== undefined) request.expiresAt = r.timestamp('expiresAt');
  const rate = r.optionalNumber('rateLimitPerHour', { min: 1, integer: true });
  if (rate !== undefined) request.rateLimitPerHour = rate;
  return request;
}

export function parseAuthAdminKeysListRequestV1(raw: unknown): AuthAdminKeysListRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('AuthAdminKeysListRequestV1', raw);
  const request: AuthAdminKeysListRequestV1 = { v: r.version(1) };
  const user = r.optionalString('user', 320);
  if (user !== undefined) request.user = user;
  return request;
}

export function parseAuthAdminKeysRevokeRequestV1(raw: unknown): AuthAdminKeysRevokeRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('AuthAdminKeysRevokeRequestV1', raw);
  return { v: r.version(1), id: r.string('id', 128) };
}
