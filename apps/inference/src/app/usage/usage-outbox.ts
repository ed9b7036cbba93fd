// The inference usage outbox: one SQLite file under $SOVREN_ROOT/data where each finished request's usage event is
// written synchronously before the client gets its answer, and removed once JetStream acknowledged it. A crash
// (even SIGKILL) loses nothing: the next start publishes what is left. A private queue file, not a platform
// database: one table, no migrations, written on the hot path without the TypeORM round trip.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export const USAGE_OUTBOX_FILE = 'inference-usage-outbox.db';

export interface OutboxRow {
  eventId: string;
  subject: string;
  /** The event as JSON, published as is. */
  payload: string;
}

export class UsageOutbox {
  private readonly db: Database.Database;
  private readonly insertRow: Database.Statement<[string, string, string, number]>;
  private readonly deleteRow: Database.Statement<[string]>;
  private readonly selectOldest: Database.Statement<[number], { event_id: string; subject: string; payload: string }>;
  private readonly countRows: Database.Statement<[], { n: number }>;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: 5_000 });
    try {
      // WAL: several inference processes on one host share the file; FULL: a committed row survives power loss.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS usage_outbox (' +
          'seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL, ' +
          'payload TEXT NOT NULL, created_at INTEGER NOT NULL)',
      );
      this.insertRow = this.db.prepare(
        'INSERT OR IGNORE INTO usage_outbox (event_id, subject, payload, created_at) VALUES (?, ?, ?, ?)',
      );
      this.deleteRow = this.db.prepare('DELETE FROM usage_outbox WHERE event_id = ?');
      this.selectOldest = this.db.prepare('SELECT event_id, subject, payload FROM usage_outbox ORDER BY seq LIMIT ?');
      this.countRows = this.db.prepare('SELECT count(*) AS n FROM usage_outbox');
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /** Durable once this returns (a committed transaction). */
  add(row: OutboxRow): void {
    this.insertRow.run(row.eventId, row.subject, row.payload, Date.now());
  }

  /** The oldest rows, in the order they were added. */
  oldest(limit: number): OutboxRow[] {
    return this.selectOldest
      .all(limit)
      .map((row) => ({ eventId: row.event_id, subject: row.subject, payload: row.payload }));
  }

  remove(eventId: string): void {
    this.deleteRow.run(eventId);
  }

  count(): number {
    return this.countRows.get()?.n ?? 0;
  }

  close(): void {
    this.db.close();
  }
}
