// Opaque credentials: 256 random bits, base64url, behind a short type prefix (`sat_` access, `srt_` refresh,
// `sov_<id>_` API key). Only their SHA-256 is ever stored; the prefix lets auth.validate route a credential
// without a lookup and lets a leaked key be recognised in logs or a secret scanner.
import { createHash, randomBytes } from 'node:crypto';

export const ACCESS_TOKEN_PREFIX = 'sat_';
export const REFRESH_TOKEN_PREFIX = 'srt_';
export const API_KEY_PREFIX = 'sov_';

const TOKEN_BYTES = 32;
/** `sat_` / `srt_` + 43 base64url characters. */
const SESSION_TOKEN_SHAPE = /^s(at|rt)_[A-Za-z0-9_-]{43}$/;
/** `sov_` + 8-character key id + `_` + 43 base64url characters. */
const API_KEY_SHAPE = /^sov_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{43}$/;

export function newSessionToken(prefix: typeof ACCESS_TOKEN_PREFIX | typeof REFRESH_TOKEN_PREFIX): string {
  return `${prefix}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
}

/** A new API key and its visible prefix (`sov_ab12cd34`), which is stored and listed. */
export function newApiKey(): { key: string; prefix: string } {
  const id = randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8);
  const prefix = `${API_KEY_PREFIX}${id}`;
  return { key: `${prefix}_${randomBytes(TOKEN_BYTES).toString('base64url')}`, prefix };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export type CredentialKind = 'access' | 'refresh' | 'api_key' | 'malformed';

export function credentialKind(credential: string): CredentialKind {
  if (SESSION_TOKEN_SHAPE.test(credential)) return credential.startsWith(ACCESS_TOKEN_PREFIX) ? 'access' : 'refresh';
  if (API_KEY_SHAPE.test(credential)) return 'api_key';
  return 'malformed';
}
