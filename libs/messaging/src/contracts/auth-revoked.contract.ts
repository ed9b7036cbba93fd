// Event on `auth.revoked` (AUTH_REVOKED): a session, an API key or every session of a user was revoked.
// Every service's guard drops cached validations that match, so a revoked credential stops working at once.

import { ContractFieldReader } from './contract-field.reader';

export const AUTH_REVOKED_KINDS = ['session', 'api_key', 'user_sessions'] as const;
export type AuthRevokedKind = (typeof AUTH_REVOKED_KINDS)[number];

export interface AuthRevokedV1 {
  v: 1;
  kind: AuthRevokedKind;
  /** Session id, API key id, or (for `user_sessions`) the user id. */
  id: string;
  userId: string;
  revokedAt: string;
}

export function parseAuthRevokedV1(raw: unknown): AuthRevokedV1 {
  const r = new ContractFieldReader('AuthRevokedV1', raw);
  return {
    v: r.version(1),
    kind: r.oneOf('kind', AUTH_REVOKED_KINDS),
    id: r.string('id', 128),
    userId: r.string('userId', 128),
    revokedAt: r.timestamp('revokedAt'),
  };
}
