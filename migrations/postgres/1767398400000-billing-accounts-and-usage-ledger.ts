// PostgreSQL migration: billing's tables. `billing_accounts` maps each platform owner to its Kill Bill account and
// subscription; `billing_usage_ledger` holds every usage event once (unique on event id) and the Kill Bill batch it
// was recorded in; `billing_usage_batches` are the usage records sent to Kill Bill (tracking_id = Kill Bill
// trackingId, persisted before sending so a retry after a crash sends the very same record); dead letters,
// notifications and payment attempts keep what billing refused, heard and did. (Auth's memory of the API keys it
// downgraded lives in its own api_auth.db.)
// Operational and high-volume tables: no audit trigger.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BillingAccountsAndUsageLedger1767398400000 implements MigrationInterface {
  name = 'BillingAccountsAndUsageLedger1767398400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "billing_accounts" (
  "owner_id" varchar(128) PRIMARY KEY,
  "killbill_account_id" uuid NOT NULL UNIQUE,
  "subscription_id" uuid,
  "plan_name" varchar(64),
  "standing" varchar(16) NOT NULL DEFAULT 'good',
  "consecutive_payment_failures" integer NOT NULL DEFAULT 0,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "chk_billing_accounts_standing" CHECK ("standing" IN ('good', 'downgraded'))
)`);
    await queryRunner.query(`
CREATE TABLE "billing_usage_batches" (
  "tracking_id" varchar(64) PRIMARY KEY,
  "owner_id" varchar(128) NOT NULL,
  "subscription_id" uuid NOT NULL,
  "records" jsonb NOT NULL,
  "event_count" integer NOT NULL,
  "status" varchar(16) NOT NULL DEFAULT 'pending',
  "attempts" integer NOT NULL DEFAULT 0,
  "last_error" text,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "recorded_at" timestamptz,
  CONSTRAINT "chk_billing_usage_batches_status" CHECK ("status" IN ('pending', 'recorded', 'rejected'))
)`);
    await queryRunner.query(
      `CREATE INDEX "idx_billing_usage_batches_pending" ON "billing_usage_batches" ("created_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(`
CREATE TABLE "billing_usage_ledger" (
  "event_id" varchar(128) PRIMARY KEY,
  "owner_id" varchar(128) NOT NULL,
  "source" varchar(64) NOT NULL,
  "request_id" varchar(128) NOT NULL,
  "key_id" varchar(128),
  "quantities" jsonb NOT NULL,
  "occurred_at" timestamptz NOT NULL,
  "stream_sequence" bigint NOT NULL,
  "batch_id" varchar(64) REFERENCES "billing_usage_batches" ("tracking_id"),
  "received_at" timestamptz NOT NULL DEFAULT now()
)`);
    await queryRunner.query(
      'CREATE INDEX "idx_billing_usage_ledger_owner" ON "billing_usage_ledger" ("owner_id", "occurred_at")',
    );
    await queryRunner.query(
      'CREATE INDEX "idx_billing_usage_ledger_unbatched" ON "billing_usage_ledger" ("stream_sequence") WHERE "batch_id" IS NULL',
    );
    await queryRunner.query(`
CREATE TABLE "billing_usage_dead_letters" (
  "id" bigserial PRIMARY KEY,
  "subject" varchar(256) NOT NULL,
  "stream_sequence" bigint NOT NULL UNIQUE,
  "reason" text NOT NULL,
  "payload" text NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now()
)`);
    await queryRunner.query(`
CREATE TABLE "billing_notifications" (
  "id" bigserial PRIMARY KEY,
  "event_type" varchar(64) NOT NULL,
  "account_id" uuid NOT NULL,
  "owner_id" varchar(128),
  "object_type" varchar(64) NOT NULL,
  "object_id" varchar(64) NOT NULL,
  "received_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "uq_billing_notifications_event" UNIQUE ("event_type", "object_type", "object_id")
)`);
    await queryRunner.query(`
CREATE TABLE "billing_payment_attempts" (
  "id" bigserial PRIMARY KEY,
  "owner_id" varchar(128) NOT NULL,
  "invoice_id" uuid NOT NULL,
  "payment_method_id" uuid NOT NULL,
  "plugin_name" varchar(128) NOT NULL,
  "transaction_external_key" varchar(128) NOT NULL UNIQUE,
  "outcome" varchar(16) NOT NULL,
  "reason" text,
  "payment_id" uuid,
  "created_at" timestamptz NOT NULL DEFAULT now()
)`);
    await queryRunner.query(
      'CREATE INDEX "idx_billing_payment_attempts_invoice" ON "billing_payment_attempts" ("invoice_id")',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "billing_payment_attempts"');
    await queryRunner.query('DROP TABLE "billing_notifications"');
    await queryRunner.query('DROP TABLE "billing_usage_dead_letters"');
    await queryRunner.query('DROP TABLE "billing_usage_ledger"');
    await queryRunner.query('DROP TABLE "billing_usage_batches"');
    await queryRunner.query('DROP TABLE "billing_accounts"');
  }
}
