// applications.db migration 2 (voice): what answers a call: greeting, prompt, voice, language, limits, recording,
// and until the speech loop lands the media application (echo, play a WAV, record).

import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SQLITE_BASE_COLUMNS } from '../shared/sqlite-base-columns.sql';

export class VoiceApplications1767744001000 implements MigrationInterface {
  name = 'VoiceApplications1767744001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "voice_applications" (${SQLITE_BASE_COLUMNS},
  "owner_id" varchar(128) NOT NULL,
  "name" varchar(200) NOT NULL,
  "greeting" text,
  "system_prompt" text,
  "voice" varchar(64),
  "language" varchar(16) NOT NULL DEFAULT 'en',
  "max_duration_seconds" integer,
  "recording" boolean NOT NULL DEFAULT (0),
  "ring_seconds" integer NOT NULL DEFAULT (0),
  "media_app" varchar(16) NOT NULL DEFAULT 'echo',
  "prompt_wav" varchar(1024),
  CONSTRAINT "chk_voice_applications_media_app" CHECK ("media_app" IN ('echo', 'play', 'record', 'agent')),
  CONSTRAINT "chk_voice_applications_ring_seconds" CHECK ("ring_seconds" BETWEEN 0 AND 120),
  CONSTRAINT "chk_voice_applications_max_duration" CHECK ("max_duration_seconds" IS NULL OR "max_duration_seconds" > 0)
)`);
    await queryRunner.query('CREATE INDEX "ix_voice_applications_owner" ON "voice_applications" ("owner_id")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ix_voice_applications_owner"');
    await queryRunner.query('DROP TABLE "voice_applications"');
  }
}
