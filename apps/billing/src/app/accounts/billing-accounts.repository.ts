// billing_accounts: which Kill Bill account and subscription belong to which platform owner, and its standing.
import { Injectable } from '@nestjs/common';

import { BillingPostgres } from '../billing-postgres';

export interface BillingAccountRow {
  ownerId: string;
  killbillAccountId: string;
  subscriptionId: string | null;
  planName: string | null;
  standing: 'good' | 'downgraded';
  consecutivePaymentFailures: number;
  createdAt: string;
}

@Injectable()
export class BillingAccountsRepository {
  constructor(private readonly postgres: BillingPostgres) {}

  async find(ownerId: string): Promise<BillingAccountRow | undefined> {
    const rows: Array<Record<string, unknown>> = await this.postgres
      .dataSource()
      .query('SELECT * FROM billing_accounts WHERE owner_id = $1', [ownerId]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  async findByKillBillAccount(accountId: string): Promise<BillingAccountRow | undefined> {
    const rows: Array<Record<string, unknown>> = await this.postgres
      .dataSource()
      .query('SELECT * FROM billing_accounts WHERE killbill_account_id = $1', [accountId]);
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  /** Stores the mapping; a row that exists already keeps its account id (Kill Bill's externalKey made them equal). */
  async saveAccount(ownerId: string, killbillAccountId: string): Promise<void> {
    await this.postgres
      .dataSource()
      .query(
        'INSERT INTO billing_accounts (owner_id, killbill_account_id) VALUES ($1, $2) ON CONFLICT (owner_id) DO NOTHING',
        [ownerId, killbillAccountId],
      );
  }

  async saveSubscription(ownerId: string, subscriptionId: string | null, planName: string | null): Promise<void> {
    await this.postgres
      .dataSource()
      .query(
        'UPDATE billing_accounts SET subscription_id = $2, plan_name = $3, updated_at = now() WHERE owner_id = $1',
        [ownerId, subscriptionId, planName],
      );
  }

  /** Counts one more failed invoice payment; returns the new count. */
  async countPaymentFailure(ownerId: string): Promise<number> {
    const rows: Array<{ consecutive_payment_failures: number }> = await this.postgres.dataSource().query(
      // Wrapped in a CTE: TypeORM answers a bare UPDATE … RETURNING with [rows, count] instead of the rows.
      `WITH updated AS (UPDATE billing_accounts SET consecutive_payment_failures = consecutive_payment_failures + 1, updated_at = now()
        WHERE owner_id = $1 RETURNING consecutive_payment_failures) SELECT * FROM updated`,
      [ownerId],
    );
    return rows[0]?.consecutive_payment_failures ?? 0;
  }

  async resetPaymentFailures(ownerId: string): Promise<void> {
    await this.postgres
      .dataSource()
      .query('UPDATE billing_accounts SET consecutive_payment_failures = 0, updated_at = now() WHERE owner_id = $1', [
        ownerId,
      ]);
  }

  /** Every owner whose standing is `downgraded`. */
  async downgradedOwners(): Promise<string[]> {
    const rows: Array<{ owner_id: string }> = await this.postgres
      .dataSource()
      .query("SELECT owner_id FROM billing_accounts WHERE standing = 'downgraded' ORDER BY owner_id");
    return rows.map((row) => row.owner_id);
  }

  /** Sets the standing; true when it changed (so the change is announced once). */
  async setStanding(ownerId: string, standing: 'good' | 'downgraded'): Promise<boolean> {
    const rows: unknown[] = await this.postgres.dataSource().query(
      `WITH updated AS (UPDATE billing_accounts SET standing = $2, updated_at = now() WHERE owner_id = $1 AND standing <> $2 RETURNING owner_id)
       SELECT * FROM updated`,
      [ownerId, standing],
    );
    return rows.length > 0;
  }
}

function toRow(row: Record<string, unknown>): BillingAccountRow {
  return {
    ownerId: String(row['owner_id']),
    killbillAccountId: String(row['killbill_account_id']),
    subscriptionId: row['subscription_id'] === null ? null : String(row['subscription_id']),
    planName: row['plan_name'] === null ? null : String(row['plan_name']),
    standing: row['standing'] === 'downgraded' ? 'downgraded' : 'good',
    consecutivePaymentFailures: Number(row['consecutive_payment_failures']),
    createdAt: (row['created_at'] as Date).toISOString(),
  };
}
