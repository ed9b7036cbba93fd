// applications.db migration 3 (voice agent): per agent application, the end-of-turn silence (how long the caller
// must pause before the agent answers, 200 to 3000 ms, default 600), the actions the agent may take as tool calls
// (comma-separated: hang_up, send_dtmf, transfer_call), the numbers it may transfer to (comma-separated E.164; none:
// no transfer) and the tool choice (auto: the model decides; required: every reply acts; none: never).

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VoiceAgentSettings1767744005000 implements MigrationInterface {
  name = 'VoiceAgentSettings1767744005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "voice_applications" ADD COLUMN "end_of_turn_ms" integer NOT NULL DEFAULT (600)
         CONSTRAINT "chk_voice_applications_end_of_turn" CHECK ("end_of_turn_ms" BETWEEN 200 AND 3000)`,
    );
    await queryRunner.query(
      `ALTER TABLE "voice_applications" ADD COLUMN "agent_actions" varchar(200) NOT NULL DEFAULT 'hang_up,send_dtmf'`,
    );
    await queryRunner.query(`ALTER TABLE "voice_applications" ADD COLUMN "transfer_numbers" text NOT NULL DEFAULT ''`);
    await queryRunner.query(
      `ALTER TABLE "voice_applications" ADD COLUMN "agent_tool_choice" varchar(8) NOT NULL DEFAULT 'auto'
         CONSTRAINT "chk_voice_applications_tool_choice" CHECK ("agent_tool_choice" IN ('auto', 'required', 'none'))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const column of ['agent_tool_choice', 'transfer_numbers', 'agent_actions', 'end_of_turn_ms']) {
      await queryRunner.query(`ALTER TABLE "voice_applications" DROP COLUMN "${column}"`);
    }
  }
}
