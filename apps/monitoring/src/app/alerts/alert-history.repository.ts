// Alert history in PostgreSQL (`alert_events`, migration 1767312007000): one row per alert, inserted when it
// fires and completed with resolved_at when it resolves. Writes go through a retry queue (the database may be
// briefly unavailable); reads answer the operator API.
import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { DatabaseRegistry, POSTGRES_DATABASE } from '@sovren/database';
import { RetryQueue } from '@sovren/mail';
import { AlertV1 } from '@sovren/messaging';

export interface AlertEventRow {
  id: string;
  fingerprint: string;
  rule: string;
  severity: string;
  service: string | null;
  summary: string;
  firedAt: string;
  resolvedAt: string | null;
}

@Injectable()
export class AlertHistoryRepository implements OnApplicationShutdown {
  readonly queue = new RetryQueue({
    name: 'AlertHistoryQueue',
    maxAttempts: 10,
    firstDelayMs: 1_000,
    maxDelayMs: 60_000,
  });

  constructor(private readonly databases: DatabaseRegistry) {}

  record(alert: AlertV1): void {
    this.queue.push(`history ${alert.state} ${alert.fingerprint}`, () =>
      alert.state === 'firing' ? this.insertFiring(alert) : this.markResolved(alert),
    );
  }

  /** Alerts still open (fired, never resolved), oldest first. */
  async open(): Promise<AlertEventRow[]> {
    const rows: Array<Record<string, unknown>> = await this.dataSource().query(
      `SELECT id, fingerprint, rule, severity, service, summary, fired_at, resolved_at
         FROM alert_events WHERE resolved_at IS NULL ORDER BY fired_at, id`,
    );
    return rows.map(toRow);
  }

  /** Most recent first. */
  async recent(limit: number): Promise<AlertEventRow[]> {
    const rows: Array<Record<string, unknown>> = await this.dataSource().query(
      `SELECT id, fingerprint, rule, severity, service, summary, fired_at, resolved_at
         FROM alert_events ORDER BY fired_at DESC, id LIMIT $1`,
      [limit],
    );
    return rows.map(toRow);
  }

  onApplicationShutdown(): Promise<void> {
    return this.queue.close();
  }

  private async insertFiring(alert: AlertV1): Promise<void> {
    await this.dataSource().query(
      `INSERT INTO alert_events (fingerprint, rule, severity, service, summary, fired_at) VALUES ($1, $2, $3, $4, $5, $6)`,
      [alert.fingerprint, alert.rule, alert.severity, alert.service ?? null, alert.summary, alert.startsAt],
    );
  }

  private async markResolved(alert: AlertV1): Promise<void> {
    await this.dataSource().query(
      `UPDATE alert_events SET resolved_at = $1, updated_at = now(), version = version + 1
        WHERE fingerprint = $2 AND fired_at = $3 AND resolved_at IS NULL`,
      [alert.endsAt, alert.fingerprint, alert.startsAt],
    );
  }

  private dataSource() {
    const postgres = this.databases.get(POSTGRES_DATABASE);
    if (!postgres.isReady()) throw new Error(`PostgreSQL is not available: ${postgres.error() ?? postgres.status()}`);
    return postgres.dataSource;
  }
}

function toRow(row: Record<string, unknown>): AlertEventRow {
  return {
    id: String(row['id']),
    fingerprint: String(row['fingerprint']),
    rule: String(row['rule']),
    severity: String(row['severity']),
    service: row['service'] === null ? null : String(row['service']),
    summary: String(row['summary']),
    firedAt: (row['fired_at'] as Date).toISOString(),
    resolvedAt: row['resolved_at'] === null ? null : (row['resolved_at'] as Date).toISOString(),
  };
}
