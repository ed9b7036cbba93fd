// api_auth.db migration 2 (auth): sessions (one row per refresh-token family), their hashed tokens, API keys
// (hashed, with a visible prefix), the per-minute rate-limit buckets of the sliding window, and the pending
// provider logins (state, PKCE verifier, nonce; single use, minutes long). Times are epoch
// milliseconds (integers): the hot path compares them without parsing dates.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SessionsApiKeysRateLimits1767312000000 implements MigrationInterface {
  name = 'SessionsApiKeysRateLimits1767312000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "sessions" (
  "id" varchar PRIMARY KEY NOT NULL,
  "user_id" varchar NOT NULL,
  "device_id" varchar(64) NOT NULL,
  "user_agent" varchar(512),
  "ip" varchar(64),
  "created_at" integer NOT NULL,
  "last_used_at" integer NOT NULL,
  "expires_at" integer NOT NULL,
  "revoked_at" integer,
  "revoked_reason" varchar(64)
)`);
    await queryRunner.query('CREATE INDEX "ix_sessions_user" ON "sessions" ("user_id")');
    await queryRunner.query(`
CREATE TABLE "session_tokens" (
  "token_hash" varchar(64) PRIMARY KEY NOT NULL,
  "session_id" varchar NOT NULL REFERENCES "sessions" ("id") ON DELETE CASCADE,
  "kind" varchar(10) NOT NULL CHECK ("kind" IN ('access', 'refresh')),
  "created_at" integer NOT NULL,
  "expires_at" integer NOT NULL,
  "consumed_at" integer
)`);
    await queryRunner.query('CREATE INDEX "ix_session_tokens_session" ON "session_tokens" ("session_id")');
    await queryRunner.query(`
CREATE TABLE "api_keys" (
  "id" varchar PRIMARY KEY NOT NULL,
  "user_id" varchar NOT NULL,
  "name" varchar(100) NOT NULL,
  "prefix" varchar(32) NOT NULL,
  "key_hash" varchar(64) NOT NULL UNIQUE,
  "scopes" text NOT NULL,
  "tier" varchar(20) NOT NULL CHECK ("tier" IN ('authenticated', 'premium')),
  "created_at" integer NOT NULL,
  "last_used_at" integer,
  "expires_at" integer,
  "revoked_at" integer,
  CONSTRAINT "chk_api_keys_name" CHECK (length("name") > 0)
)`);
    await queryRunner.query('CREATE INDEX "ix_api_keys_user" ON "api_keys" ("user_id")');
    await queryRunner.query(`
CREATE TABLE "rate_limit_buckets" (
  "subject" varchar(200) NOT NULL,
  "bucket_start" integer NOT NULL,
  "count" integer NOT NULL,
  PRIMARY KEY ("subject", "bucket_start")
) WITHOUT ROWID`);
    await queryRunner.query(`
CREATE TABLE "login_attempts" (
  "state_hash" varchar(64) PRIMARY KEY NOT NULL,
  "provider" varchar(64) NOT NULL,
  "binding_hash" varchar(64) NOT NULL,
  "code_verifier" varchar(128) NOT NULL,
  "nonce" varchar(128) NOT NULL,
  "link_user_id" varchar,
  "return_to" varchar(512) NOT NULL,
  "created_at" integer NOT NULL,
  "expires_at" integer NOT NULL,
  "consumed_at" integer
)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "login_attempts"');
    await queryRunner.query('DROP TABLE "rate_limit_buckets"');
    await queryRunner.query('DROP INDEX "ix_api_keys_user"');
    await queryRunner.query('DROP TABLE "api_keys"');
    await queryRunner.query('DROP INDEX "ix_session_tokens_session"');
    await queryRunner.query('DROP TABLE "session_tokens"');
    await queryRunner.query('DROP INDEX "ix_sessions_user"');
    await queryRunner.query('DROP TABLE "sessions"');
  }
}
