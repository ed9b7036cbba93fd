// users.db migration 2 (auth): a role per user, and the linked login identities (provider + subject) of each user.
// Provider access/refresh tokens are not stored: no feature needs them yet (a later migration adds encrypted
// columns for the first one that does).

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SQLITE_BASE_COLUMNS } from '../shared/sqlite-base-columns.sql';

export class UsersIdentitiesAndRoles1767312000000 implements MigrationInterface {
  name = 'UsersIdentitiesAndRoles1767312000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "users" ADD COLUMN "role" varchar(20) NOT NULL DEFAULT 'user' CHECK ("role" IN ('user', 'admin'))`,
    );
    await queryRunner.query(`
CREATE TABLE "user_identities" (${SQLITE_BASE_COLUMNS},
  "user_id" varchar NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  "provider" varchar(64) NOT NULL,
  "subject" varchar(255) NOT NULL,
  "email" varchar(320),
  "last_login_at" datetime,
  CONSTRAINT "uq_user_identities_provider_subject" UNIQUE ("provider", "subject"),
  CONSTRAINT "chk_user_identities_provider" CHECK (length("provider") > 0),
  CONSTRAINT "chk_user_identities_subject" CHECK (length("subject") > 0)
)`);
    await queryRunner.query('CREATE INDEX "ix_user_identities_user" ON "user_identities" ("user_id")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ix_user_identities_user"');
    await queryRunner.query('DROP TABLE "user_identities"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "role"');
  }
}
