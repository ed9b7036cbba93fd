// users.db migration 1: schema_info and the local users table (id, email, display_name + base columns).

import { randomUUID } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CREATE_SCHEMA_INFO, INSERT_DATABASE_NAME, SQLITE_BASE_COLUMNS } from '../shared/sqlite-base-columns.sql';

export class UsersInitialSchema1767225600000 implements MigrationInterface {
  name = 'UsersInitialSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(CREATE_SCHEMA_INFO);
    await queryRunner.query(INSERT_DATABASE_NAME, [randomUUID(), 'users']);
    await queryRunner.query(`
CREATE TABLE "users" (${SQLITE_BASE_COLUMNS},
  "email" varchar(320),
  "display_name" varchar(200) NOT NULL,
  CONSTRAINT "chk_users_email_format" CHECK ("email" IS NULL OR "email" LIKE '%_@_%'),
  CONSTRAINT "chk_users_display_name" CHECK (length("display_name") > 0)
)`);
    // One live account per address; a soft-deleted account does not block re-registration.
    await queryRunner.query(
      'CREATE UNIQUE INDEX "uq_users_email" ON "users" ("email") WHERE "email" IS NOT NULL AND "deleted_at" IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "uq_users_email"');
    await queryRunner.query('DROP TABLE "users"');
    await queryRunner.query('DROP TABLE "schema_info"');
  }
}
