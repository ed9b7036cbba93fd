// api_auth.db migration 3 (auth): the premium API keys auth served as `authenticated` because billing downgraded
// their owner (billing.tier.changed), so that `restored` gives premium back to exactly those keys. It lives next to
// api_keys so that remembering a key and lowering its tier are one SQLite transaction. Times are epoch milliseconds.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BillingDowngradedApiKeys1767398400000 implements MigrationInterface {
  name = 'BillingDowngradedApiKeys1767398400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "billing_downgraded_api_keys" (
  "key_id" varchar PRIMARY KEY NOT NULL REFERENCES "api_keys" ("id") ON DELETE CASCADE,
  "owner_id" varchar NOT NULL,
  "downgraded_at" integer NOT NULL
)`);
    await queryRunner.query(
      'CREATE INDEX "ix_billing_downgraded_api_keys_owner" ON "billing_downgraded_api_keys" ("owner_id")',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "billing_downgraded_api_keys"');
  }
}
