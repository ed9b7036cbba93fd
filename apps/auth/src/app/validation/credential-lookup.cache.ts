// auth.validate's own short memory of credentials it just found valid (keyed by their SHA-256), so that a
// busy caller costs a map lookup instead of two SQLite queries per request. Safe because auth is the only
// writer: every revocation in this process drops the matching entries at once (RevocationPublisher), and an
// entry never outlives the credential's own expiry. Role changes show after at most the TTL.
import type { AuthIdentityV1, AuthRevokedV1, AuthTier } from '@sovren/messaging';

export interface ValidCredential {
  identity: AuthIdentityV1;
  scopes: string[];
  tier: Exclude<AuthTier, 'anonymous'>;
  /** Rate-limit subject: `user:<id>`, shared by all of a user's sessions and keys. */
  subject: string;
  /** An API key's own hourly limit (counted as `key:<id>`), when it has one. */
  ownLimit?: number;
  /** The credential's own expiry (epoch ms), or null. */
  expiresAt: number | null;
}

export const CREDENTIAL_CACHE_TTL_MS = 2_000;
const MAX_ENTRIES = 50_000;

export class CredentialLookupCache {
  private readonly entries = new Map<string, { credential: ValidCredential; until: number }>();

  get(hash: string, now: number): ValidCredential | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.until <= now || (entry.credential.expiresAt !== null && entry.credential.expiresAt <= now)) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.credential;
  }

  put(hash: string, credential: ValidCredential, now: number): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(hash, { credential, until: now + CREDENTIAL_CACHE_TTL_MS });
  }

  revoke(event: AuthRevokedV1): void {
    for (const [hash, { credential }] of this.entries) {
      const identity = credential.identity;
      if (
        (event.kind === 'session' && identity.sessionId === event.id) ||
        (event.kind === 'api_key' && identity.apiKeyId === event.id) ||
        (event.kind === 'user_sessions' && identity.kind === 'session' && identity.userId === event.userId)
      ) {
        this.entries.delete(hash);
      }
    }
  }
}
