// applications.db migration 3 (voice agent): the end-of-turn silence of an agent application (how long the caller
// must pause before the agent answers), 200 to 3000 ms, default 600.

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VoiceAgentTurnTaking1767744005000 implements MigrationInterface {
  name = 'VoiceAgentTurnTaking1767744005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "voice_applications" ADD COLUMN "end_of_turn_ms" integer NOT NULL DEFAULT (600)
         CONSTRAINT "chk_voice_applications_end_of_turn" CHECK ("end_of_turn_ms" BETWEEN 200 AND 3000)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "voice_applications" DROP COLUMN "end_of_turn_ms"');
  }
}
