// phone_numbers.db migration 2 (voice): our carrier numbers (synced from Skyetel) and the application each routes to.

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SQLITE_BASE_COLUMNS } from '../shared/sqlite-base-columns.sql';

export class PhoneNumbersAndRouting1767744000000 implements MigrationInterface {
  name = 'PhoneNumbersAndRouting1767744000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "phone_numbers" (${SQLITE_BASE_COLUMNS},
  "number" varchar(16) NOT NULL,
  "owner_id" varchar(128),
  "application_id" varchar(64),
  "carrier" varchar(32) NOT NULL DEFAULT 'skyetel',
  "carrier_id" varchar(64),
  "status" varchar(16) NOT NULL DEFAULT 'active',
  "synced_at" datetime,
  CONSTRAINT "uq_phone_numbers_number" UNIQUE ("number"),
  CONSTRAINT "chk_phone_numbers_e164" CHECK ("number" GLOB '+[1-9]*' AND length("number") BETWEEN 3 AND 16),
  CONSTRAINT "chk_phone_numbers_status" CHECK ("status" IN ('active', 'released'))
)`);
    await queryRunner.query('CREATE INDEX "ix_phone_numbers_owner" ON "phone_numbers" ("owner_id")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ix_phone_numbers_owner"');
    await queryRunner.query('DROP TABLE "phone_numbers"');
  }
}
