// api_auth.db migration (auth): an API key's own hourly limit (`rate_limit_per_hour`, NULL for none), below the
// budget its user shares across every credential; and an index for counting a user's active keys (the cap).

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeyRateLimit1767657600000 implements MigrationInterface {
  name = 'ApiKeyRateLimit1767657600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "api_keys" ADD COLUMN "rate_limit_per_hour" integer CHECK ("rate_limit_per_hour" > 0)',
    );
    await queryRunner.query(
      'CREATE INDEX "ix_api_keys_user_active" ON "api_keys" ("user_id") WHERE "revoked_at" IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ix_api_keys_user_active"');
    await queryRunner.query('ALTER TABLE "api_keys" DROP COLUMN "rate_limit_per_hour"');
  }
}
