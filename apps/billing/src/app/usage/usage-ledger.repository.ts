// The PostgreSQL usage ledger (billing_usage_ledger, unique on event id) and the Kill Bill usage batches it was
// recorded in (billing_usage_batches). A batch is written, and its events pointed at it, in one transaction
// before it is sent, so after a crash the same record (same trackingId) is sent again, never a regrouped one.
import { Injectable } from '@nestjs/common';
import type { UsageEventV1, UsageQuantities } from '@sovren/messaging';

import { BillingPostgres } from '../billing-postgres';
import type { LedgerEventForBatch, UsageBatch } from './usage-batch.builder';

export interface PendingBatch {
  trackingId: string;
  ownerId: string;
  subscriptionId: string;
  records: UsageBatch['records'];
  eventCount: number;
  /** When it was last sent without learning the outcome (it may be in Kill Bill); undefined: not in Kill Bill. */
  sentAt: Date | undefined;
}

export interface UsageByDay {
  day: string;
  unit: string;
  amount: number;
}

@Injectable()
export class UsageLedgerRepository {
  constructor(private readonly postgres: BillingPostgres) {}

  /** Inserts the events not yet in the ledger; returns the ids that were new. */
  async insert(events: Array<{ event: UsageEventV1; streamSequence: number }>): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const values: unknown[] = [];
    const rows = events.map(({ event, streamSequence }, index) => {
      values.push(
        event.eventId,
        event.ownerId,
        event.source,
        event.requestId,
        event.keyId ?? null,
        JSON.stringify(event.quantities),
        event.occurredAt,
        streamSequence,
      );
      const base = index * 8;
      return `($${base + 1}, $${base + 2}, $${base + 3}, $${base + 4}, $${base + 5}, $${base + 6}::jsonb, $${base + 7}, $${base + 8})`;
    });
    const inserted: Array<{ event_id: string }> = await this.postgres.dataSource().query(
      `INSERT INTO billing_usage_ledger (event_id, owner_id, source, request_id, key_id, quantities, occurred_at, stream_sequence)
       VALUES ${rows.join(', ')} ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      values,
    );
    return new Set(inserted.map((row) => row.event_id));
  }

  /** Events not yet assigned to a Kill Bill batch, oldest first, except those of `skipOwners` (waiting owners). */
  async unbatched(limit: number, skipOwners: string[] = []): Promise<LedgerEventForBatch[]> {
    const rows: Array<{ event_id: string; owner_id: string; quantities: UsageQuantities; occurred_at: Date }> =
      await this.postgres.dataSource().query(
        `SELECT event_id, owner_id, quantities, occurred_at FROM billing_usage_ledger
          WHERE batch_id IS NULL AND owner_id <> ALL($2::text[]) ORDER BY stream_sequence LIMIT $1`,
        [limit, skipOwners],
      );
    return rows.map((row) => ({
      eventId: row.event_id,
      ownerId: row.owner_id,
      quantities: row.quantities,
      occurredAt: row.occurred_at.toISOString(),
    }));
  }

  /** Stores the batch and assigns its events to it, atomically. `status` 'rejected' stores one that cannot be billed. */
  async saveBatch(batch: UsageBatch, status: 'pending' | 'rejected' = 'pending', error?: string): Promise<void> {
    await this.saveBatches([batch], status, error);
  }

  /** Stores the batches and assigns their events, in one transaction (one round of statements for many owners). */
  async saveBatches(batches: UsageBatch[], status: 'pending' | 'rejected' = 'pending', error?: string): Promise<void> {
    if (batches.length === 0) return;
    await this.postgres.dataSource().transaction(async (manager) => {
      await manager.query(
        `INSERT INTO billing_usage_batches (tracking_id, owner_id, subscription_id, records, event_count, status, last_error)
         SELECT b.tracking_id, b.owner_id, b.subscription_id::uuid, b.records::jsonb, b.event_count, $6, $7
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS b(tracking_id, owner_id, subscription_id, records, event_count)
         ON CONFLICT (tracking_id) DO NOTHING`,
        [
          batches.map((b) => b.trackingId),
          batches.map((b) => b.ownerId),
          batches.map((b) => b.subscriptionId),
          batches.map((b) => JSON.stringify(b.records)),
          batches.map((b) => b.eventIds.length),
          status,
          error ?? null,
        ],
      );
      const events = batches.flatMap((b) => b.eventIds.map((eventId) => [eventId, b.trackingId] as const));
      await manager.query(
        `UPDATE billing_usage_ledger l SET batch_id = e.batch_id
           FROM unnest($1::text[], $2::text[]) AS e(event_id, batch_id)
          WHERE l.event_id = e.event_id AND l.batch_id IS NULL`,
        [events.map(([eventId]) => eventId), events.map(([, trackingId]) => trackingId)],
      );
    });
  }

  /** Batches not sent yet (or whose sending failed), oldest first, except those of `skipOwners`. */
  async pendingBatches(limit: number, skipOwners: string[] = []): Promise<PendingBatch[]> {
    const rows: Array<{
      tracking_id: string;
      owner_id: string;
      subscription_id: string;
      records: UsageBatch['records'];
      event_count: number;
      sent_at: Date | null;
    }> = await this.postgres.dataSource().query(
      `SELECT tracking_id, owner_id, subscription_id, records, event_count, sent_at FROM billing_usage_batches
            WHERE status = 'pending' AND owner_id <> ALL($2::text[]) ORDER BY created_at, tracking_id LIMIT $1`,
      [limit, skipOwners],
    );
    return rows.map((row) => ({
      trackingId: row.tracking_id,
      ownerId: row.owner_id,
      subscriptionId: row.subscription_id,
      records: row.records,
      eventCount: row.event_count,
      sentAt: row.sent_at ?? undefined,
    }));
  }

  /** Notes that the batch is about to be sent: from now until its outcome is known it may be in Kill Bill. */
  async markSending(trackingId: string): Promise<void> {
    await this.postgres
      .dataSource()
      .query('UPDATE billing_usage_batches SET sent_at = now(), attempts = attempts + 1 WHERE tracking_id = $1', [
        trackingId,
      ]);
  }

  /**
   * Sum per unit, in [startDate, endDate) (`YYYY-MM-DD`), of the batches of `subscriptionId` Kill Bill recorded,
   * except `exceptTrackingId`: what Kill Bill must hold for that subscription besides that batch.
   */
  async recordedAmounts(
    subscriptionId: string,
    exceptTrackingId: string,
    startDate: string,
    endDate: string,
  ): Promise<Map<string, string>> {
    const rows: Array<{ unit: string; amount: string }> = await this.postgres.dataSource().query(
      `SELECT r->>'unitType' AS unit, sum((u->>'amount')::numeric)::text AS amount
         FROM billing_usage_batches b, jsonb_array_elements(b.records) r, jsonb_array_elements(r->'usageRecords') u
        WHERE b.subscription_id = $1 AND b.status = 'recorded' AND b.tracking_id <> $2
          AND u->>'recordDate' >= $3 AND u->>'recordDate' < $4
        GROUP BY 1`,
      [subscriptionId, exceptTrackingId, startDate, endDate],
    );
    return new Map(rows.map((row) => [row.unit, row.amount]));
  }

  /** Marks batches Kill Bill has (a crash before this leaves sent_at set: the batch is looked up, not re-sent blindly). */
  async markRecorded(trackingIds: string[]): Promise<void> {
    if (trackingIds.length === 0) return;
    await this.postgres
      .dataSource()
      .query(
        `UPDATE billing_usage_batches SET status = 'recorded', recorded_at = now(), sent_at = NULL WHERE tracking_id = ANY($1)`,
        [trackingIds],
      );
  }

  async markRejected(trackingId: string, error: string): Promise<void> {
    await this.postgres
      .dataSource()
      .query(
        `UPDATE billing_usage_batches SET status = 'rejected', last_error = $2, sent_at = NULL WHERE tracking_id = $1`,
        [trackingId, error.slice(0, 2000)],
      );
  }

  /** Notes a failed send; `notInKillBill`: Kill Bill answered without writing it (or it was never sent). */
  async noteFailure(trackingId: string, error: string, notInKillBill: boolean): Promise<void> {
    await this.postgres.dataSource().query(
      `UPDATE billing_usage_batches SET last_error = $2, sent_at = CASE WHEN $3 THEN NULL ELSE sent_at END
          WHERE tracking_id = $1`,
      [trackingId, error.slice(0, 2000), notInKillBill],
    );
  }

  async deadLetter(entry: { subject: string; streamSequence: number; reason: string; payload: string }): Promise<void> {
    await this.postgres.dataSource().query(
      `INSERT INTO billing_usage_dead_letters (subject, stream_sequence, reason, payload) VALUES ($1, $2, $3, $4)
         ON CONFLICT (stream_sequence) DO NOTHING`,
      [entry.subject, entry.streamSequence, entry.reason.slice(0, 2000), entry.payload],
    );
  }

  /** Usage per day and unit from the ledger, for [from, to). */
  async usageByDay(ownerId: string, from: string, to: string): Promise<UsageByDay[]> {
    const rows: Array<{ day: string; unit: string; amount: string }> = await this.postgres.dataSource().query(
      `SELECT to_char(date_trunc('day', l.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, q.key AS unit,
              sum(q.value::numeric)::text AS amount
         FROM billing_usage_ledger l, jsonb_each_text(l.quantities) q
        WHERE l.owner_id = $1 AND l.occurred_at >= $2 AND l.occurred_at < $3
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [ownerId, from, to],
    );
    return rows.map((row) => ({ day: row.day, unit: row.unit, amount: Number(row.amount) }));
  }
}
