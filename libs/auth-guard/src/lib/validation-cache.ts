// The guard's short cache of positive auth.validate answers, keyed by the SHA-256 of the credential. A cached
// answer serves requests while its TTL lasts and its own copy of `remaining` is above zero; the requests it
// served are reported to auth (`cachedHits`) with the next call, so the count stays exact. All of a user's
// credentials share one hourly budget at auth, so the cache also keeps, per user, the latest `remaining` auth
// answered and what it served since without telling auth: a user's many keys cannot each spend the whole budget
// from the cache. A revocation event drops every entry it concerns.
import { createHash } from 'node:crypto';
import type { AuthRevokedV1, AuthValidateReplyV1 } from '@sovren/messaging';

export interface CachedValidation {
  reply: AuthValidateReplyV1;
  expiresAt: number;
  /** Requests served from this entry, not yet reported to auth. */
  servedFromCache: number;
}

interface UserAllowance {
  /** `remaining` of the latest answer auth gave for any of the user's credentials. */
  remaining: number;
  /** Requests served from the cache for the user's credentials and not reported to auth yet. */
  unreported: number;
}

export class ValidationCache {
  private readonly entries = new Map<string, CachedValidation>();
  private readonly users = new Map<string, UserAllowance>();

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
    let remaining = entry.reply.rateLimit.remaining - entry.servedFromCache;
    const user = this.allowanceOf(entry);
    if (user) remaining = Math.min(remaining, user.remaining - user.unreported);
    if (remaining <= 0) return undefined;
    entry.servedFromCache += 1;
    if (user) user.unreported += 1;
    return { ...entry.reply, rateLimit: { ...entry.reply.rateLimit, remaining: remaining - 1 } };
  }

  /** Requests served from the (possibly expired) entry and not reported yet; resets the tally. */
  drainServed(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    const served = entry.servedFromCache;
    entry.servedFromCache = 0;
    this.forget(entry, served);
    return served;
  }

  put(key: string, reply: AuthValidateReplyV1, now = Date.now()): void {
    const userId = reply.result === 'ok' ? reply.identity.userId : undefined;
    if (userId !== undefined) {
      // A refusal for one credential means the user's budget is spent for all of them.
      const remaining = reply.rateLimit.allowed ? reply.rateLimit.remaining : 0;
      const user = this.users.get(userId);
      if (user) user.remaining = remaining;
      else {
        if (this.users.size >= this.maxEntries) this.users.clear();
        this.users.set(userId, { remaining, unreported: 0 });
      }
    }
    if (reply.result !== 'ok' || reply.identity.kind === 'anonymous' || !reply.rateLimit.allowed) {
      this.delete(key);
      return;
    }
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    const previous = this.entries.get(key);
    this.entries.set(key, { reply, expiresAt: now + this.ttlMs, servedFromCache: previous?.servedFromCache ?? 0 });
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
        this.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  size(): number {
    return this.entries.size;
  }

  /**
   * Requests served for the other credentials of `key`'s user and not reported yet; resets their tallies (the
   * caller reports them now as `userCachedHits`, against the user's shared budget).
   */
  drainUserServed(key: string): number {
    const userId = this.entries.get(key)?.reply.identity.userId;
    if (userId === undefined) return 0;
    let served = 0;
    for (const [other, entry] of this.entries) {
      if (other === key || entry.reply.identity.userId !== userId || entry.servedFromCache === 0) continue;
      served += entry.servedFromCache;
      this.forget(entry, entry.servedFromCache);
      entry.servedFromCache = 0;
    }
    return served;
  }

  private allowanceOf(entry: CachedValidation): UserAllowance | undefined {
    const userId = entry.reply.identity.userId;
    return userId === undefined ? undefined : this.users.get(userId);
  }

  /** `served` requests of this entry are no longer pending at the user level (reported, or dropped with it). */
  private forget(entry: CachedValidation, served: number): void {
    const user = this.allowanceOf(entry);
    if (user && served > 0) user.unreported = Math.max(0, user.unreported - served);
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.forget(entry, entry.servedFromCache);
    this.entries.delete(key);
  }
}
