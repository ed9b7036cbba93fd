// PostgreSQL migration: `billing_usage_batches.sent_at`, when billing last sent the batch to Kill Bill without
// learning the outcome (a timeout, a 5xx, a crash mid-request). While it is set the batch may already be in Kill Bill:
// billing looks it up there before sending it again. Cleared once the outcome is known.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BillingUsageBatchSentAt1767657600000 implements MigrationInterface {
  name = 'BillingUsageBatchSentAt1767657600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "billing_usage_batches" ADD COLUMN "sent_at" timestamptz');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "billing_usage_batches" DROP COLUMN "sent_at"');
  }
}
