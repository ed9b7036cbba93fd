// PostgreSQL migration: one metadata row per call recording (the stereo WAV under $SOVREN_ROOT/recordings), with
// the time the retention sweep deletes it. Operational data: no audit trigger.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VoiceRecordings1767744003000 implements MigrationInterface {
  name = 'VoiceRecordings1767744003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "voice_recordings" (
  "call_id" uuid PRIMARY KEY,
  "owner_id" varchar(128) NOT NULL,
  "application_id" varchar(64),
  "path" varchar(1024) NOT NULL,
  "bytes" bigint NOT NULL,
  "duration_ms" integer NOT NULL,
  "sample_rate" integer NOT NULL,
  "channels" smallint NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "expires_at" timestamptz NOT NULL,
  CONSTRAINT "chk_voice_recordings_sizes" CHECK ("bytes" >= 44 AND "duration_ms" >= 0)
)`);
    await queryRunner.query('CREATE INDEX "ix_voice_recordings_expires" ON "voice_recordings" ("expires_at")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "voice_recordings"');
  }
}
