// Pending logins in api_auth.db: one row per redirect to a provider, keyed by the hash of its `state`, holding
// the PKCE verifier and nonce, bound to the browser by a cookie, valid for ten minutes and usable once. The
// table stays bounded: expired rows go at every save, a client address keeps at most `pendingPerIp` unfinished
// logins (its oldest is dropped), and beyond `pendingMax` rows in all a new login is refused.
import { Injectable, Logger } from '@nestjs/common';

import { AuthConfig } from '../auth-config/auth-config';
import { AuthDatabases } from '../storage/auth-databases';
import { hashToken } from '../tokens/opaque-token';
import { LoginError, LoginErrorCode } from './login.errors';

export const LOGIN_ATTEMPT_TTL_MS = 10 * 60_000;

export interface LoginAttempt {
  provider: string;
  codeVerifier: string;
  nonce: string;
  linkUserId: string | null;
  returnTo: string;
}

interface AttemptRow {
  provider: string;
  binding_hash: string;
  code_verifier: string;
  nonce: string;
  link_user_id: string | null;
  return_to: string;
  expires_at: number;
  consumed_at: number | null;
}

export type ConsumeOutcome = { ok: true; attempt: LoginAttempt } | { ok: false; why: string };

@Injectable()
export class LoginAttemptsRepository {
  private readonly logger = new Logger(LoginAttemptsRepository.name);

  constructor(
    private readonly databases: AuthDatabases,
    private readonly config: AuthConfig,
  ) {}

  save(state: string, binding: string, attempt: LoginAttempt, clientIp: string, now = Date.now()): void {
    const db = this.databases.handleForHttp('api_auth');
    const { pendingPerIp, pendingMax } = this.config.login;
    db.transaction(() => {
      this.databases.statement(db, 'DELETE FROM login_attempts WHERE expires_at <= ?').run(now);
      const { n: pendingOfIp } = this.databases
        .statement(db, 'SELECT count(*) AS n FROM login_attempts WHERE client_ip = ? AND consumed_at IS NULL')
        .get(clientIp) as { n: number };
      if (pendingOfIp >= pendingPerIp) {
        this.databases
          .statement(
            db,
            `DELETE FROM login_attempts WHERE state_hash IN (
               SELECT state_hash FROM login_attempts WHERE client_ip = ? AND consumed_at IS NULL
                ORDER BY created_at LIMIT ?)`,
          )
          .run(clientIp, pendingOfIp - pendingPerIp + 1);
      }
      const { n: total } = this.databases.statement(db, 'SELECT count(*) AS n FROM login_attempts').get() as {
        n: number;
      };
      if (total >= pendingMax) {
        this.logger.warn({ msg: 'login refused: too many logins in progress', in_progress: total, max: pendingMax });
        throw new LoginError(
          LoginErrorCode.TOO_MANY_LOGINS,
          'too many logins are in progress right now; try again in a few minutes',
        );
      }
      this.databases
        .statement(
          db,
          `INSERT INTO login_attempts (state_hash, provider, binding_hash, code_verifier, nonce, link_user_id, return_to, client_ip, created_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          hashToken(state),
          attempt.provider,
          hashToken(binding),
          attempt.codeVerifier,
          attempt.nonce,
          attempt.linkUserId,
          attempt.returnTo,
          clientIp.slice(0, 64),
          now,
          now + LOGIN_ATTEMPT_TTL_MS,
        );
    }).immediate();
  }

  /** Marks the attempt used (whatever happens next, a state works once) and returns it if it was valid. */
  consume(state: string, provider: string, binding: string | undefined, now = Date.now()): ConsumeOutcome {
    const db = this.databases.handleForHttp('api_auth');
    return db
      .transaction((): ConsumeOutcome => {
        const row = this.databases
          .statement(db, 'SELECT * FROM login_attempts WHERE state_hash = ?')
          .get(hashToken(state)) as AttemptRow | undefined;
        if (!row) return { ok: false, why: 'unknown state' };
        if (row.consumed_at !== null)
          return { ok: false, why: 'this login was already completed or refused (state used twice)' };
        this.databases
          .statement(db, 'UPDATE login_attempts SET consumed_at = ? WHERE state_hash = ?')
          .run(now, hashToken(state));
        if (row.provider !== provider) return { ok: false, why: 'the state belongs to another provider' };
        if (row.expires_at <= now) return { ok: false, why: 'the login took too long (state expired)' };
        if (binding === undefined || hashToken(binding) !== row.binding_hash) {
          return { ok: false, why: 'the state was not issued to this browser' };
        }
        return {
          ok: true,
          attempt: {
            provider: row.provider,
            codeVerifier: row.code_verifier,
            nonce: row.nonce,
            linkUserId: row.link_user_id,
            returnTo: row.return_to,
          },
        };
      })
      .immediate();
  }
}
