// PostgreSQL migration 1: the generic audit pattern (audit_log + sovren_audit_row() trigger function) and the
// example main table `organizations`, audited on insert, update and delete.
// Every later main table gets the same trigger: CREATE TRIGGER trg_<table>_audit … EXECUTE FUNCTION sovren_audit_row().

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditLogAndOrganizations1767225600000 implements MigrationInterface {
  name = 'AuditLogAndOrganizations1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "audit_log" (
  "id" bigserial PRIMARY KEY,
  "table_name" text NOT NULL,
  "operation" text NOT NULL,
  "row_id" uuid NOT NULL,
  "old_data" jsonb,
  "new_data" jsonb,
  "changed_by" text NOT NULL DEFAULT current_user,
  "changed_at" timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT "chk_audit_log_operation" CHECK ("operation" IN ('INSERT', 'UPDATE', 'DELETE')),
  CONSTRAINT "chk_audit_log_data" CHECK (
    ("operation" = 'INSERT' AND "old_data" IS NULL AND "new_data" IS NOT NULL) OR
    ("operation" = 'UPDATE' AND "old_data" IS NOT NULL AND "new_data" IS NOT NULL) OR
    ("operation" = 'DELETE' AND "old_data" IS NOT NULL AND "new_data" IS NULL)
  )
)`);
    await queryRunner.query('CREATE INDEX "idx_audit_log_row" ON "audit_log" ("table_name", "row_id", "changed_at")');
    await queryRunner.query('CREATE INDEX "idx_audit_log_changed_at" ON "audit_log" ("changed_at")');

    // changed_by: the application may name the acting user with `SET LOCAL sovren.actor = '<user id>'` inside its
    // transaction; otherwise the database role is recorded.
    await queryRunner.query(`
CREATE OR REPLACE FUNCTION sovren_audit_row() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  actor text := coalesce(nullif(current_setting('sovren.actor', true), ''), current_user);
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit_log (table_name, operation, row_id, old_data, new_data, changed_by)
    VALUES (TG_TABLE_NAME, TG_OP, NEW.id, NULL, to_jsonb(NEW), actor);
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO audit_log (table_name, operation, row_id, old_data, new_data, changed_by)
    VALUES (TG_TABLE_NAME, TG_OP, NEW.id, to_jsonb(OLD), to_jsonb(NEW), actor);
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO audit_log (table_name, operation, row_id, old_data, new_data, changed_by)
    VALUES (TG_TABLE_NAME, TG_OP, OLD.id, to_jsonb(OLD), NULL, actor);
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'sovren_audit_row: unsupported trigger operation %', TG_OP;
END
$$`);

    await queryRunner.query(`
CREATE TABLE "organizations" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  "deleted_at" timestamptz,
  "version" integer NOT NULL DEFAULT 1,
  "name" varchar(200) NOT NULL,
  "slug" varchar(63) NOT NULL,
  CONSTRAINT "uq_organizations_slug" UNIQUE ("slug"),
  CONSTRAINT "chk_organizations_slug_format" CHECK ("slug" ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  CONSTRAINT "chk_organizations_name" CHECK (length(btrim("name")) > 0)
)`);
    await queryRunner.query(`
CREATE TRIGGER "trg_organizations_audit"
AFTER INSERT OR UPDATE OR DELETE ON "organizations"
FOR EACH ROW EXECUTE FUNCTION sovren_audit_row()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TRIGGER "trg_organizations_audit" ON "organizations"');
    await queryRunner.query('DROP TABLE "organizations"');
    await queryRunner.query('DROP FUNCTION sovren_audit_row()');
    await queryRunner.query('DROP TABLE "audit_log"');
  }
}
