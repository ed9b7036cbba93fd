// Sessions: one row per refresh-token family in api_auth.db, with short-lived access tokens and single-use
// refresh tokens, all stored as SHA-256 hashes. Refreshing consumes the refresh token and issues a new pair;
// presenting it again within the grace window (two tabs at once) returns that same pair; after the window an
// already consumed refresh token is reuse (a stolen token racing its owner) and revokes the whole family.
import { Injectable, Logger } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { randomUUID } from 'node:crypto';

import { AuthConfig } from '../auth-config/auth-config';
import { RevocationPublisher } from '../revocation/revocation.publisher';
import { AuthDatabases } from '../storage/auth-databases';
import {
  ACCESS_TOKEN_PREFIX,
  credentialKind,
  hashToken,
  newSessionToken,
  REFRESH_TOKEN_PREFIX,
} from '../tokens/opaque-token';
import { openSuccessor, sealSuccessor } from './successor-seal';

export interface IssuedTokens {
  sessionId: string;
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

export interface NewSession extends IssuedTokens {
  /** No earlier session of this user came from this device id: worth a security notice. */
  newDevice: boolean;
}

export interface SessionClient {
  deviceId: string;
  userAgent?: string;
  ip?: string;
}

export interface SessionView {
  id: string;
  device_id: string;
  user_agent: string | null;
  ip: string | null;
  created_at: string;
  last_used_at: string;
  expires_at: string;
}

export interface AccessTokenCheck {
  ok: boolean;
  reason?: 'unknown' | 'expired' | 'revoked';
  sessionId?: string;
  userId?: string;
  /** When the token stops being valid (its own or its session's expiry, whichever is first). */
  expiresAt?: number;
}

interface SessionRow {
  id: string;
  user_id: string;
  device_id: string;
  user_agent: string | null;
  ip: string | null;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
}

interface TokenLookupRow {
  session_id: string;
  expires_at: number;
  consumed_at: number | null;
  user_id: string;
  session_expires_at: number;
  revoked_at: number | null;
  last_used_at: number;
}

interface RefreshLookupRow extends TokenLookupRow {
  grace_until: number | null;
  successor_sealed: string | null;
}

/** last_used_at is written at most this often per session (it is informational; writes cost). */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class SessionService {
  private readonly logger = new Logger(SessionService.name);

  constructor(
    private readonly databases: AuthDatabases,
    private readonly config: AuthConfig,
    private readonly revocations: RevocationPublisher,
  ) {}

  create(userId: string, client: SessionClient, now = Date.now()): NewSession {
    const db = this.databases.handle('api_auth');
    const sessionId = randomUUID();
    const expiresAt = now + this.config.sessionMaxMs;
    let newDevice = false;
    let issued: IssuedTokens | undefined;
    db.transaction(() => {
      const seen = this.databases
        .statement(db, 'SELECT 1 FROM sessions WHERE user_id = ? AND device_id = ? LIMIT 1')
        .get(userId, client.deviceId);
      newDevice = seen === undefined;
      this.databases
        .statement(
          db,
          `INSERT INTO sessions (id, user_id, device_id, user_agent, ip, created_at, last_used_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          sessionId,
          userId,
          client.deviceId,
          client.userAgent?.slice(0, 512) ?? null,
          client.ip ?? null,
          now,
          now,
          expiresAt,
        );
      issued = this.issue(sessionId, expiresAt, now);
    }).immediate();
    if (!issued) throw new Error('session creation produced no tokens');
    return { ...issued, newDevice };
  }

  /** Checks an access token (the auth.validate hot path). */
  checkAccessToken(token: string, now = Date.now()): AccessTokenCheck {
    const db = this.databases.handle('api_auth');
    const row = this.databases
      .statement(
        db,
        `SELECT t.session_id, t.expires_at, t.consumed_at, s.user_id, s.expires_at AS session_expires_at,
                s.revoked_at, s.last_used_at
           FROM session_tokens t JOIN sessions s ON s.id = t.session_id
          WHERE t.token_hash = ? AND t.kind = 'access'`,
      )
      .get(hashToken(token)) as TokenLookupRow | undefined;
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null || row.consumed_at !== null) return { ok: false, reason: 'revoked' };
    if (row.expires_at <= now || row.session_expires_at <= now) return { ok: false, reason: 'expired' };
    if (now - row.last_used_at > LAST_USED_RESOLUTION_MS) {
      this.databases.statement(db, 'UPDATE sessions SET last_used_at = ? WHERE id = ?').run(now, row.session_id);
    }
    return {
      ok: true,
      sessionId: row.session_id,
      userId: row.user_id,
      expiresAt: Math.min(row.expires_at, row.session_expires_at),
    };
  }

  /**
   * Exchanges a refresh token for a new access + refresh pair. The same refresh token presented again within
   * the grace window gets that same pair back (two tabs refreshing at once); after the window a refresh token
   * that was already used revokes its whole session (reuse detection) and is refused.
   */
  refresh(refreshToken: string, now = Date.now()): IssuedTokens {
    if (credentialKind(refreshToken) !== 'refresh') {
      throw ApiError.fromCode(ApiErrorCode.UNAUTHORIZED, 'refresh_token is not a valid refresh token');
    }
    const db = this.databases.handleForHttp('api_auth');
    const tokenHash = hashToken(refreshToken);
    const outcome = db
      .transaction(() => {
        // Successor pairs whose window has passed are of no use to anyone: drop them.
        this.databases
          .statement(
            db,
            'UPDATE session_tokens SET grace_until = NULL, successor_sealed = NULL WHERE grace_until IS NOT NULL AND grace_until <= ?',
          )
          .run(now);
        const row = this.databases
          .statement(
            db,
            `SELECT t.session_id, t.expires_at, t.consumed_at, t.grace_until, t.successor_sealed, s.user_id,
                  s.expires_at AS session_expires_at, s.revoked_at, s.last_used_at
             FROM session_tokens t JOIN sessions s ON s.id = t.session_id
            WHERE t.token_hash = ? AND t.kind = 'refresh'`,
          )
          .get(tokenHash) as RefreshLookupRow | undefined;
        if (!row) return { refused: 'the refresh token is unknown' as const };
        if (row.revoked_at !== null) return { refused: 'the session was revoked' as const };
        if (row.consumed_at !== null) {
          const replay =
            row.grace_until !== null && row.grace_until > now && row.successor_sealed !== null
              ? openSuccessor(row.successor_sealed, refreshToken)
              : undefined;
          if (replay && row.session_expires_at > now) return { replayed: replay, sessionId: row.session_id };
          this.revokeRow(db, row.session_id, 'refresh_token_reuse', now);
          return { reuse: row };
        }
        if (row.expires_at <= now || row.session_expires_at <= now)
          return { refused: 'the refresh token has expired' as const };
        const issued = this.issue(row.session_id, row.session_expires_at, now);
        const graceMs = this.config.refreshGraceMs;
        this.databases
          .statement(
            db,
            'UPDATE session_tokens SET consumed_at = ?, grace_until = ?, successor_sealed = ? WHERE token_hash = ?',
          )
          .run(
            now,
            graceMs > 0 ? now + graceMs : null,
            graceMs > 0 ? sealSuccessor(issued, refreshToken) : null,
            tokenHash,
          );
        this.databases.statement(db, 'UPDATE sessions SET last_used_at = ? WHERE id = ?').run(now, row.session_id);
        return { issued };
      })
      .immediate();
    if ('replayed' in outcome && outcome.replayed) {
      this.logger.log({ msg: 'refresh token presented again within the grace window', session_id: outcome.sessionId });
      return outcome.replayed;
    }
    if ('reuse' in outcome && outcome.reuse) {
      this.logger.warn({
        msg: 'refresh token reused: session family revoked',
        session_id: outcome.reuse.session_id,
        user_id: outcome.reuse.user_id,
      });
      this.revocations.announce('session', outcome.reuse.session_id, outcome.reuse.user_id);
      throw ApiError.fromCode(
        ApiErrorCode.UNAUTHORIZED,
        'refresh token already used: the session has been revoked; sign in again',
      );
    }
    if ('refused' in outcome && outcome.refused) throw ApiError.fromCode(ApiErrorCode.UNAUTHORIZED, outcome.refused);
    if (!('issued' in outcome) || !outcome.issued) throw new Error('refresh produced no outcome');
    return outcome.issued;
  }

  /** Revokes one session of `userId`; false when it is not theirs or already revoked. */
  revoke(userId: string, sessionId: string, reason: string, now = Date.now()): boolean {
    const db = this.databases.handleForHttp('api_auth');
    const result = this.databases
      .statement(
        db,
        'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL',
      )
      .run(now, reason, sessionId, userId);
    if (result.changes === 0) return false;
    this.revocations.announce('session', sessionId, userId);
    return true;
  }

  /** Revokes every live session of the user (logout everywhere); returns how many. */
  revokeAll(userId: string, reason: string, now = Date.now()): number {
    const db = this.databases.handleForHttp('api_auth');
    const result = this.databases
      .statement(db, 'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE user_id = ? AND revoked_at IS NULL')
      .run(now, reason, userId);
    this.revocations.announce('user_sessions', userId, userId);
    return result.changes;
  }

  /** The user's live sessions, newest first. */
  list(userId: string, now = Date.now()): SessionView[] {
    const db = this.databases.handleForHttp('api_auth');
    const rows = this.databases
      .statement(
        db,
        `SELECT id, user_id, device_id, user_agent, ip, created_at, last_used_at, expires_at, revoked_at
           FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC`,
      )
      .all(userId, now) as SessionRow[];
    return rows.map((row) => ({
      id: row.id,
      device_id: row.device_id,
      user_agent: row.user_agent,
      ip: row.ip,
      created_at: new Date(row.created_at).toISOString(),
      last_used_at: new Date(row.last_used_at).toISOString(),
      expires_at: new Date(row.expires_at).toISOString(),
    }));
  }

  /** Whether a session is live (used by tests and the sessions list). */
  isLive(sessionId: string, now = Date.now()): boolean {
    const db = this.databases.handle('api_auth');
    const row = this.databases
      .statement(db, 'SELECT revoked_at, expires_at FROM sessions WHERE id = ?')
      .get(sessionId) as { revoked_at: number | null; expires_at: number } | undefined;
    return row !== undefined && row.revoked_at === null && row.expires_at > now;
  }

  private revokeRow(db: ReturnType<AuthDatabases['handle']>, sessionId: string, reason: string, now: number): void {
    this.databases
      .statement(db, 'UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL')
      .run(now, reason, sessionId);
  }

  private issue(sessionId: string, sessionExpiresAt: number, now: number): IssuedTokens {
    const db = this.databases.handle('api_auth');
    const accessToken = newSessionToken(ACCESS_TOKEN_PREFIX);
    const refreshToken = newSessionToken(REFRESH_TOKEN_PREFIX);
    const accessExpiresAt = Math.min(now + this.config.accessTtlMs, sessionExpiresAt);
    const refreshExpiresAt = Math.min(now + this.config.refreshTtlMs, sessionExpiresAt);
    const insert = this.databases.statement(
      db,
      'INSERT INTO session_tokens (token_hash, session_id, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    );
    insert.run(hashToken(accessToken), sessionId, 'access', now, accessExpiresAt);
    insert.run(hashToken(refreshToken), sessionId, 'refresh', now, refreshExpiresAt);
    return { sessionId, accessToken, accessExpiresAt, refreshToken, refreshExpiresAt };
  }
}
