// api_auth.db migration 1: the schema_info table; the owning service adds its own tables in later migrations.

import { randomUUID } from 'node:crypto';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CREATE_SCHEMA_INFO, INSERT_DATABASE_NAME } from '../shared/sqlite-base-columns.sql';

export class ApiAuthInitialSchema1767225600000 implements MigrationInterface {
  name = 'ApiAuthInitialSchema1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(CREATE_SCHEMA_INFO);
    await queryRunner.query(INSERT_DATABASE_NAME, [randomUUID(), 'api_auth']);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "schema_info"');
  }
}
