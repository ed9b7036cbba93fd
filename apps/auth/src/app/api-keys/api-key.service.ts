// API keys: created for a user with scopes and a tier, shown once, stored as a SHA-256 hash with a visible
// prefix (`sov_ab12cd34`) for listing. Owners manage their own keys; admins manage anyone's from a session, and
// only admins hand out premium keys (premium is a commercial tier, not something a user grants themselves). No key
// can mint a stronger one: a key created with an API key gets at most that key's scopes, expiry and tier. A user
// holds at most SOVREN_AUTH_MAX_API_KEYS_PER_USER active keys. A premium key for an owner billing has downgraded is
// created as `authenticated` and remembered with the owner's other lowered keys, so that billing's `restored`
// makes it premium (see billing-tier/).
import { HttpStatus, Injectable } from '@nestjs/common';
import { isScope, ROLE_SCOPES, scopesAllowedFor } from '@sovren/auth-guard';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type { AuthRole } from '@sovren/messaging';
import { randomUUID } from 'node:crypto';

import { AuthConfig } from '../auth-config/auth-config';
import { isOwnerDowngraded, rememberLoweredKey } from '../billing-tier/billing-downgrades';
import { RevocationPublisher } from '../revocation/revocation.publisher';
import { AuthDatabases } from '../storage/auth-databases';
import { hashToken, newApiKey } from '../tokens/opaque-token';
import { UsersRepository } from '../users/users.repository';

export const API_KEY_TIERS = ['authenticated', 'premium'] as const;
export type ApiKeyTier = (typeof API_KEY_TIERS)[number];

export interface Actor {
  userId: string;
  role: AuthRole;
  /** The API key the request was made with; absent for a session. */
  apiKeyId?: string;
}

const TIER_RANK: Record<ApiKeyTier, number> = { authenticated: 0, premium: 1 };

export interface ApiKeyView {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  tier: ApiKeyTier;
  /** The key's own hourly limit (below its user's shared budget), or null. */
  rate_limit_per_hour: number | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface CreatedApiKey extends ApiKeyView {
  /** The full key: returned once, never stored. */
  key: string;
}

export interface ApiKeyCheck {
  ok: boolean;
  reason?: 'unknown' | 'expired' | 'revoked';
  keyId?: string;
  userId?: string;
  scopes?: string[];
  tier?: ApiKeyTier;
  /** Epoch ms, or null for a key without expiry. */
  expiresAt?: number | null;
  /** The key's own hourly limit, or null. */
  ratePerHour?: number | null;
}

interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string;
  tier: ApiKeyTier;
  rate_limit_per_hour: number | null;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
  revoked_at: number | null;
}

const LAST_USED_RESOLUTION_MS = 60_000;
const iso = (value: number | null): string | null => (value === null ? null : new Date(value).toISOString());

function toView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    user_id: row.user_id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    tier: row.tier,
    rate_limit_per_hour: row.rate_limit_per_hour,
    created_at: new Date(row.created_at).toISOString(),
    last_used_at: iso(row.last_used_at),
    expires_at: iso(row.expires_at),
    revoked_at: iso(row.revoked_at),
  };
}

@Injectable()
export class ApiKeyService {
  constructor(
    private readonly databases: AuthDatabases,
    private readonly users: UsersRepository,
    private readonly revocations: RevocationPublisher,
    private readonly config: AuthConfig,
  ) {}

  create(
    actor: Actor,
    input: {
      name: string;
      scopes: string[];
      tier?: ApiKeyTier;
      userId?: string;
      expiresAt?: number;
      ratePerHour?: number;
    },
    now = Date.now(),
  ): CreatedApiKey {
    const ownerId = this.ownerFor(actor, input.userId);
    const tier = input.tier ?? 'authenticated';
    if (tier === 'premium' && actor.role !== 'admin') {
      throw ApiError.fromCode(ApiErrorCode.FORBIDDEN, 'only an admin can create premium API keys');
    }
    if (input.expiresAt !== undefined && input.expiresAt <= now) {
      throw ApiError.fromCode(ApiErrorCode.VALIDATION_FAILED, 'expires_at must be in the future');
    }
    const scopes = [...new Set(input.scopes)].sort();
    const unknown = scopes.filter((scope) => !isScope(scope));
    if (unknown.length > 0) {
      throw ApiError.fromCode(ApiErrorCode.VALIDATION_FAILED, `unknown scope: ${unknown.join(', ')}`, {
        unknown_scopes: unknown,
      });
    }
    const ownerRole = ownerId === actor.userId ? actor.role : this.users.roleOf(ownerId);
    const beyondOwner = scopes.filter((scope) => !ROLE_SCOPES[ownerRole ?? 'user'].some((held) => held === scope));
    if (beyondOwner.length > 0) {
      throw ApiError.fromCode(
        ApiErrorCode.FORBIDDEN,
        `the key's owner's role does not hold: ${beyondOwner.join(', ')}`,
        { not_grantable: beyondOwner },
      );
    }
    const expiresAt = this.limitByCallingKey(actor, { scopes, tier, expiresAt: input.expiresAt }, now);
    const { key, prefix } = newApiKey();
    const row: ApiKeyRow = {
      id: randomUUID(),
      user_id: ownerId,
      name: input.name,
      prefix,
      scopes: JSON.stringify(scopes),
      tier,
      rate_limit_per_hour: input.ratePerHour ?? null,
      created_at: now,
      last_used_at: null,
      expires_at: expiresAt ?? null,
      revoked_at: null,
    };
    const db = this.databases.handleForHttp('api_auth');
    const insert = this.databases.statement(
      db,
      `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, tier, rate_limit_per_hour, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const countActive = this.databases.statement(
      db,
      'SELECT count(*) AS n FROM api_keys WHERE user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)',
    );
    const cap = this.config.maxApiKeysPerUser;
    // One transaction with the cap and the downgrade check: two concurrent creations cannot both take the last
    // slot, and a key cannot slip in premium between a downgrade and its insert.
    db.transaction(() => {
      const active = (countActive.get(ownerId, now) as { n: number }).n;
      if (active >= cap) {
        throw new ApiError(
          HttpStatus.CONFLICT,
          ApiErrorCode.CONFLICT,
          `the user already has ${active} active API keys, the most allowed (${cap}); revoke one first`,
          { active_keys: active, max_active_keys: cap },
        );
      }
      const lowered = row.tier === 'premium' && isOwnerDowngraded(this.databases, db, ownerId);
      if (lowered) row.tier = 'authenticated';
      insert.run(
        row.id,
        row.user_id,
        row.name,
        row.prefix,
        hashToken(key),
        row.scopes,
        row.tier,
        row.rate_limit_per_hour,
        row.created_at,
        row.expires_at,
      );
      if (lowered) rememberLoweredKey(this.databases, db, row.id, ownerId, now);
    }).immediate();
    return { ...toView(row), key };
  }

  list(actor: Actor, userId?: string): ApiKeyView[] {
    const ownerId = this.ownerFor(actor, userId);
    const db = this.databases.handleForHttp('api_auth');
    const rows = this.databases
      .statement(db, 'SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at DESC')
      .all(ownerId) as ApiKeyRow[];
    return rows.map(toView);
  }

  revoke(actor: Actor, keyId: string, now = Date.now()): ApiKeyView {
    const db = this.databases.handleForHttp('api_auth');
    const row = this.databases.statement(db, 'SELECT * FROM api_keys WHERE id = ?').get(keyId) as ApiKeyRow | undefined;
    if (!row || (row.user_id !== actor.userId && actor.role !== 'admin')) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `API key ${keyId} does not exist`);
    }
    if (row.revoked_at === null) {
      this.databases
        .statement(db, 'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(now, keyId);
      row.revoked_at = now;
      this.revocations.announce('api_key', keyId, row.user_id);
    }
    return toView(row);
  }

  /** Checks an API key (the auth.validate hot path). */
  check(key: string, now = Date.now()): ApiKeyCheck {
    const db = this.databases.handle('api_auth');
    const row = this.databases
      .statement(
        db,
        `SELECT id, user_id, scopes, tier, rate_limit_per_hour, last_used_at, expires_at, revoked_at
           FROM api_keys WHERE key_hash = ?`,
      )
      .get(hashToken(key)) as Omit<ApiKeyRow, 'name' | 'prefix' | 'created_at'> | undefined;
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    if (row.expires_at !== null && row.expires_at <= now) return { ok: false, reason: 'expired' };
    if (row.last_used_at === null || now - row.last_used_at > LAST_USED_RESOLUTION_MS) {
      this.databases.statement(db, 'UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(now, row.id);
    }
    return {
      ok: true,
      keyId: row.id,
      userId: row.user_id,
      scopes: JSON.parse(row.scopes) as string[],
      tier: row.tier,
      expiresAt: row.expires_at,
      ratePerHour: row.rate_limit_per_hour,
    };
  }

  /**
   * A key created with an API key is no stronger than it: scopes within the calling key's (as its owner's role
   * still allows), a tier no higher, an expiry no later (a key without one inherits the caller's). Returns the
   * expiry to store.
   */
  private limitByCallingKey(
    actor: Actor,
    wanted: { scopes: string[]; tier: ApiKeyTier; expiresAt: number | undefined },
    now: number,
  ): number | undefined {
    if (actor.apiKeyId === undefined) return wanted.expiresAt;
    const db = this.databases.handleForHttp('api_auth');
    const caller = this.databases
      .statement(db, 'SELECT scopes, tier, expires_at, revoked_at FROM api_keys WHERE id = ? AND user_id = ?')
      .get(actor.apiKeyId, actor.userId) as
      | Pick<ApiKeyRow, 'scopes' | 'tier' | 'expires_at' | 'revoked_at'>
      | undefined;
    if (!caller || caller.revoked_at !== null || (caller.expires_at !== null && caller.expires_at <= now)) {
      throw ApiError.fromCode(ApiErrorCode.UNAUTHORIZED, 'the API key this request was made with is no longer valid');
    }
    const held = scopesAllowedFor(actor.role, JSON.parse(caller.scopes) as string[]);
    const beyond = wanted.scopes.filter((scope) => !held.some((own) => own === scope));
    if (beyond.length > 0) {
      throw ApiError.fromCode(
        ApiErrorCode.FORBIDDEN,
        `a key can only create keys with scopes it holds itself; it lacks: ${beyond.join(', ')}`,
        { not_grantable: beyond },
      );
    }
    if (TIER_RANK[wanted.tier] > TIER_RANK[caller.tier]) {
      throw ApiError.fromCode(
        ApiErrorCode.FORBIDDEN,
        `a key of the ${caller.tier} tier cannot create a ${wanted.tier} key`,
      );
    }
    if (caller.expires_at === null) return wanted.expiresAt;
    if (wanted.expiresAt === undefined) return caller.expires_at;
    if (wanted.expiresAt > caller.expires_at) {
      throw ApiError.fromCode(
        ApiErrorCode.FORBIDDEN,
        `a key cannot create a key that outlives it: expires_at must be at most ${new Date(caller.expires_at).toISOString()}`,
        { max_expires_at: new Date(caller.expires_at).toISOString() },
      );
    }
    return wanted.expiresAt;
  }

  private ownerFor(actor: Actor, requested: string | undefined): string {
    if (requested === undefined || requested === actor.userId) return actor.userId;
    if (actor.role !== 'admin') {
      throw ApiError.fromCode(ApiErrorCode.FORBIDDEN, "only an admin can manage another user's API keys");
    }
    if (actor.apiKeyId !== undefined) {
      throw ApiError.fromCode(
        ApiErrorCode.FORBIDDEN,
        "another user's API keys are managed from a signed-in session, not with an API key",
      );
    }
    if (!this.users.findById(requested)) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `user ${requested} does not exist`);
    }
    return requested;
  }
}
