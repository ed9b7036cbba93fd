// The guard's short cache of positive auth.validate answers, keyed by the SHA-256 of the credential. A cached
// answer serves requests while its TTL lasts and its own copy of `remaining` is above zero; the requests it
// served are reported to auth (`cachedHits`) with the next call, so the count stays exact. A revocation event
// drops every entry it concerns.
import { createHash } from 'node:crypto';
import type { AuthRevokedV1, AuthValidateReplyV1 } from '@sovren/messaging';

export interface CachedValidation {
  reply: AuthValidateReplyV1;
  expiresAt: number;
  /** Requests served from this entry, not yet reported to auth. */
  servedFromCache: number;
}

export class ValidationCache {
  private readonly entries = new Map<string, CachedValidation>();

  constructor(
    readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  static keyOf(credential: string): string {
    return createHash('sha256').update(credential).digest('hex');
  }

  /** A live entry that can serve one more request (and counts it), or undefined. */
  take(key: string, now = Date.now()): AuthValidateReplyV1 | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= now) return undefined;
    const remaining = entry.reply.rateLimit.remaining - entry.servedFromCache;
    if (remaining <= 0) return undefined;
    entry.servedFromCache += 1;
    return { ...entry.reply, rateLimit: { ...entry.reply.rateLimit, remaining: remaining - 1 } };
  }

  /** Requests served from the (possibly expired) entry and not reported yet; resets the tally. */
  drainServed(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    const served = entry.servedFromCache;
    entry.servedFromCache = 0;
    return served;
  }

  put(key: string, reply: AuthValidateReplyV1, now = Date.now()): void {
    if (reply.result !== 'ok' || reply.identity.kind === 'anonymous' || !reply.rateLimit.allowed) {
      this.entries.delete(key);
      return;
    }
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { reply, expiresAt: now + this.ttlMs, servedFromCache: 0 });
  }

  /** Drops the entries a revocation concerns; returns how many. */
  revoke(event: AuthRevokedV1): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      const identity = entry.reply.identity;
      const matches =
        (event.kind === 'session' && identity.sessionId === event.id) ||
        (event.kind === 'api_key' && identity.apiKeyId === event.id) ||
        (event.kind === 'user_sessions' && identity.kind === 'session' && identity.userId === event.userId);
      if (matches) {
        this.entries.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  size(): number {
    return this.entries.size;
  }
}
