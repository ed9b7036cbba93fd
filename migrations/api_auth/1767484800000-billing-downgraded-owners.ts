// api_auth.db migration 4 (auth): the owners billing downgraded (billing.tier.changed `downgraded`, until
// `restored`). Remembering the owner, not only its lowered keys, is what stops a premium key created while it is
// downgraded from bringing premium back: auth creates it as `authenticated` and restores it with the others.
// Times are epoch milliseconds.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BillingDowngradedOwners1767484800000 implements MigrationInterface {
  name = 'BillingDowngradedOwners1767484800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "billing_downgraded_owners" (
  "owner_id" varchar PRIMARY KEY NOT NULL,
  "downgraded_at" integer NOT NULL
)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "billing_downgraded_owners"');
  }
}
