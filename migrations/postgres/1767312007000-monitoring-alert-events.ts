// PostgreSQL migration: `alert_events`, monitoring's alert history (one row per alert: when it fired, when it
// resolved). Operational history written only by monitoring, so it has no audit trigger.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class MonitoringAlertEvents1767312007000 implements MigrationInterface {
  name = 'MonitoringAlertEvents1767312007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "alert_events" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  "deleted_at" timestamptz,
  "version" integer NOT NULL DEFAULT 1,
  "fingerprint" varchar(256) NOT NULL,
  "rule" varchar(64) NOT NULL,
  "severity" varchar(16) NOT NULL,
  "service" varchar(64),
  "summary" varchar(1024) NOT NULL,
  "fired_at" timestamptz NOT NULL,
  "resolved_at" timestamptz,
  CONSTRAINT "chk_alert_events_severity" CHECK ("severity" IN ('critical', 'warning')),
  CONSTRAINT "chk_alert_events_resolved_after_fired" CHECK ("resolved_at" IS NULL OR "resolved_at" >= "fired_at")
)`);
    await queryRunner.query('CREATE INDEX "idx_alert_events_fired_at" ON "alert_events" ("fired_at")');
    await queryRunner.query(
      'CREATE INDEX "idx_alert_events_open" ON "alert_events" ("fingerprint", "fired_at") WHERE "resolved_at" IS NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "alert_events"');
  }
}
