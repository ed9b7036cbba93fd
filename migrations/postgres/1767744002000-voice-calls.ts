// PostgreSQL migration: voice call records, one row per call (both directions) with its state timeline, SIP
// Call-ID, codec, ring/answer/end times, hangup cause and side, and RTP quality. Operational data: no audit trigger.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VoiceCalls1767744002000 implements MigrationInterface {
  name = 'VoiceCalls1767744002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "voice_calls" (
  "id" uuid PRIMARY KEY,
  "direction" varchar(8) NOT NULL,
  "from_number" varchar(64) NOT NULL,
  "to_number" varchar(64) NOT NULL,
  "application_id" varchar(64),
  "owner_id" varchar(128),
  "sip_call_id" varchar(256) NOT NULL,
  "state" varchar(16) NOT NULL,
  "timeline" jsonb NOT NULL DEFAULT '[]'::jsonb,
  "codec" varchar(8),
  "started_at" timestamptz NOT NULL DEFAULT now(),
  "ringing_at" timestamptz,
  "answered_at" timestamptz,
  "ended_at" timestamptz,
  "hangup_cause" varchar(32),
  "hangup_side" varchar(8),
  "sip_status" integer,
  "rtp_quality" jsonb,
  "recording_path" varchar(1024),
  CONSTRAINT "chk_voice_calls_direction" CHECK ("direction" IN ('inbound', 'outbound')),
  CONSTRAINT "chk_voice_calls_state" CHECK ("state" IN ('ringing', 'answered', 'ended')),
  CONSTRAINT "chk_voice_calls_hangup_side" CHECK ("hangup_side" IS NULL OR "hangup_side" IN ('local', 'remote'))
)`);
    await queryRunner.query(
      'CREATE INDEX "ix_voice_calls_owner_started" ON "voice_calls" ("owner_id", "started_at" DESC)',
    );
    await queryRunner.query(
      'CREATE INDEX "ix_voice_calls_active" ON "voice_calls" ("state") WHERE "state" <> \'ended\'',
    );
    await queryRunner.query('CREATE INDEX "ix_voice_calls_sip_call_id" ON "voice_calls" ("sip_call_id")');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "voice_calls"');
  }
}
