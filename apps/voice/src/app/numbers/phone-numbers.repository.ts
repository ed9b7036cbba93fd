// phone_numbers.db: our carrier numbers and the application each one routes to.
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';

import { VoiceDatabases } from '../voice-databases';

export interface PhoneNumberRow {
  id: string;
  number: string;
  ownerId: string | null;
  applicationId: string | null;
  carrierId: string | null;
  status: 'active' | 'released';
  syncedAt: string | null;
}

interface RawRow {
  id: string;
  number: string;
  owner_id: string | null;
  application_id: string | null;
  carrier_id: string | null;
  status: 'active' | 'released';
  synced_at: string | null;
}

const COLUMNS = '"id", "number", "owner_id", "application_id", "carrier_id", "status", "synced_at"';

function toRow(raw: RawRow): PhoneNumberRow {
  return {
    id: raw.id,
    number: raw.number,
    ownerId: raw.owner_id,
    applicationId: raw.application_id,
    carrierId: raw.carrier_id,
    status: raw.status,
    syncedAt: raw.synced_at,
  };
}

@Injectable()
export class PhoneNumbersRepository {
  constructor(private readonly databases: VoiceDatabases) {}

  async findActive(number: string): Promise<PhoneNumberRow | null> {
    const rows: RawRow[] = await this.databases
      .phoneNumbers()
      .query(`SELECT ${COLUMNS} FROM "phone_numbers" WHERE "number" = ? AND "status" = 'active'`, [number]);
    return rows[0] ? toRow(rows[0]) : null;
  }

  async listActive(ownerId: string | null): Promise<PhoneNumberRow[]> {
    const rows: RawRow[] =
      ownerId === null
        ? await this.databases
            .phoneNumbers()
            .query(`SELECT ${COLUMNS} FROM "phone_numbers" WHERE "status" = 'active' ORDER BY "number"`)
        : await this.databases
            .phoneNumbers()
            .query(
              `SELECT ${COLUMNS} FROM "phone_numbers" WHERE "status" = 'active' AND ("owner_id" = ? OR "owner_id" IS NULL) ORDER BY "number"`,
              [ownerId],
            );
    return rows.map(toRow);
  }

  /** Inserts or refreshes a number seen at the carrier (keeps its owner and application). */
  async upsertFromCarrier(number: string, carrierId: string | null, ownerId: string | null = null): Promise<void> {
    await this.databases.phoneNumbers().query(
      `INSERT INTO "phone_numbers" ("id", "number", "carrier_id", "owner_id", "status", "synced_at")
       VALUES (?, ?, ?, ?, 'active', datetime('now'))
       ON CONFLICT ("number") DO UPDATE SET "carrier_id" = excluded."carrier_id", "status" = 'active',
         "owner_id" = COALESCE("phone_numbers"."owner_id", excluded."owner_id"),
         "synced_at" = excluded."synced_at", "updated_at" = datetime('now'), "version" = "version" + 1`,
      [randomUUID(), number, carrierId, ownerId],
    );
  }

  /** Numbers the carrier no longer lists are marked released; returns how many. */
  async releaseMissing(present: string[]): Promise<number> {
    const active = await this.listActive(null);
    const gone = active.filter((row) => !present.includes(row.number));
    for (const row of gone) await this.markReleased(row.number);
    return gone.length;
  }

  async markReleased(number: string): Promise<void> {
    await this.databases
      .phoneNumbers()
      .query(
        `UPDATE "phone_numbers" SET "status" = 'released', "application_id" = NULL, "updated_at" = datetime('now'), "version" = "version" + 1 WHERE "number" = ?`,
        [number],
      );
  }

  async assign(number: string, ownerId: string, applicationId: string | null): Promise<void> {
    await this.databases
      .phoneNumbers()
      .query(
        `UPDATE "phone_numbers" SET "owner_id" = ?, "application_id" = ?, "updated_at" = datetime('now'), "version" = "version" + 1 WHERE "number" = ? AND "status" = 'active'`,
        [ownerId, applicationId, number],
      );
  }
}
