// API keys: created for a user with scopes and a tier, shown once, stored as a SHA-256 hash with a visible
// prefix (`sov_ab12cd34`) for listing. Owners manage their own keys; admins manage anyone's, and only admins
// hand out premium keys (premium is a commercial tier, not something a user grants themselves). A premium key for
// an owner billing has downgraded is created as `authenticated` and remembered with the owner's other lowered keys,
// so that billing's `restored` makes it premium (see billing-tier/).
import { HttpStatus, Injectable } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';
import type { AuthRole } from '@sovren/messaging';
import { randomUUID } from 'node:crypto';

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
}

export interface ApiKeyView {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string[];
  tier: ApiKeyTier;
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
}

interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  scopes: string;
  tier: ApiKeyTier;
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
  ) {}

  create(
    actor: Actor,
    input: { name: string; scopes: string[]; tier?: ApiKeyTier; userId?: string; expiresAt?: number },
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
    const { key, prefix } = newApiKey();
    const row: ApiKeyRow = {
      id: randomUUID(),
      user_id: ownerId,
      name: input.name,
      prefix,
      scopes: JSON.stringify([...new Set(input.scopes)].sort()),
      tier,
      created_at: now,
      last_used_at: null,
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
    };
    const db = this.databases.handleForHttp('api_auth');
    const insert = this.databases.statement(
      db,
      `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, tier, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // One transaction with the downgrade check, so a key cannot slip in premium between a downgrade and its insert.
    db.transaction(() => {
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
        'SELECT id, user_id, scopes, tier, last_used_at, expires_at, revoked_at FROM api_keys WHERE key_hash = ?',
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
    };
  }

  private ownerFor(actor: Actor, requested: string | undefined): string {
    if (requested === undefined || requested === actor.userId) return actor.userId;
    if (actor.role !== 'admin') {
      throw ApiError.fromCode(ApiErrorCode.FORBIDDEN, "only an admin can manage another user's API keys");
    }
    if (!this.users.findById(requested)) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `user ${requested} does not exist`);
    }
    return requested;
  }
}
