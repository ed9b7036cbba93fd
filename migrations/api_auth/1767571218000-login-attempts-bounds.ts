// api_auth.db migration (auth): bounded pending logins. Each attempt remembers the client address that started
// it, so pending attempts can be capped per address; indexes let every login start prune expired attempts and
// count the pending ones without a table scan.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class LoginAttemptsBounds1767571218000 implements MigrationInterface {
  name = 'LoginAttemptsBounds1767571218000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "login_attempts" ADD COLUMN "client_ip" varchar(64) NOT NULL DEFAULT ''`);
    await queryRunner.query('CREATE INDEX "ix_login_attempts_expires" ON "login_attempts" ("expires_at")');
    await queryRunner.query(
      'CREATE INDEX "ix_login_attempts_pending_ip" ON "login_attempts" ("client_ip", "created_at") WHERE "consumed_at" IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ix_login_attempts_pending_ip"');
    await queryRunner.query('DROP INDEX "ix_login_attempts_expires"');
    await queryRunner.query('ALTER TABLE "login_attempts" DROP COLUMN "client_ip"');
  }
}
