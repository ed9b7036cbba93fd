// PostgreSQL migration: the transcript of voice-agent calls, one row per utterance of either side (the caller's
// recognised speech, the agent's reply with what the caller heard of it), with its times and, for agent
// utterances, the turn's latency breakdown. Operational data: no audit trigger.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VoiceCallTranscripts1767744004000 implements MigrationInterface {
  name = 'VoiceCallTranscripts1767744004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
CREATE TABLE "voice_call_transcripts" (
  "call_id" uuid NOT NULL,
  "seq" integer NOT NULL,
  "turn" integer NOT NULL,
  "speaker" varchar(8) NOT NULL,
  "text" text NOT NULL,
  "heard_text" text,
  "interrupted" boolean NOT NULL DEFAULT false,
  "started_at" timestamptz NOT NULL,
  "ended_at" timestamptz NOT NULL,
  "latency" jsonb,
  PRIMARY KEY ("call_id", "seq"),
  CONSTRAINT "chk_voice_call_transcripts_speaker" CHECK ("speaker" IN ('caller', 'agent')),
  CONSTRAINT "chk_voice_call_transcripts_times" CHECK ("ended_at" >= "started_at")
)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "voice_call_transcripts"');
  }
}
