// api_auth.db migration (auth): the refresh grace window. A consumed refresh token keeps, until `grace_until`
// (epoch ms), the pair it was exchanged for, AES-256-GCM sealed under a key derived from that refresh token
// (never stored), so a second tab presenting it again gets the same pair instead of revoking the session.
// Rows whose window has passed have both columns cleared (partial index below).

import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SessionRefreshGrace1767571216000 implements MigrationInterface {
  name = 'SessionRefreshGrace1767571216000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "session_tokens" ADD COLUMN "grace_until" integer');
    await queryRunner.query('ALTER TABLE "session_tokens" ADD COLUMN "successor_sealed" text');
    await queryRunner.query(
      'CREATE INDEX "ix_session_tokens_grace" ON "session_tokens" ("grace_until") WHERE "grace_until" IS NOT NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "ix_session_tokens_grace"');
    await queryRunner.query('ALTER TABLE "session_tokens" DROP COLUMN "successor_sealed"');
    await queryRunner.query('ALTER TABLE "session_tokens" DROP COLUMN "grace_until"');
  }
}
