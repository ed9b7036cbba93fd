// The billing-tier state auth keeps in api_auth.db, shared by the tier subscriber and API key creation: which
// owners billing downgraded (billing_downgraded_owners) and which of their keys auth lowered from premium
// (billing_downgraded_api_keys). Callers run these inside their own SQLite transaction, next to the key change.
import type { Database } from 'better-sqlite3';

import type { AuthDatabases } from '../storage/auth-databases';

export function isOwnerDowngraded(databases: AuthDatabases, db: Database, ownerId: string): boolean {
  return (
    databases.statement(db, 'SELECT 1 FROM billing_downgraded_owners WHERE owner_id = ?').get(ownerId) !== undefined
  );
}

export function rememberDowngradedOwner(databases: AuthDatabases, db: Database, ownerId: string, now: number): void {
  databases
    .statement(
      db,
      'INSERT INTO billing_downgraded_owners (owner_id, downgraded_at) VALUES (?, ?) ON CONFLICT (owner_id) DO NOTHING',
    )
    .run(ownerId, now);
}

export function forgetDowngradedOwner(databases: AuthDatabases, db: Database, ownerId: string): void {
  databases.statement(db, 'DELETE FROM billing_downgraded_owners WHERE owner_id = ?').run(ownerId);
}

/** Remembers a key served as `authenticated` instead of premium, so that `restored` gives premium back to it. */
export function rememberLoweredKey(
  databases: AuthDatabases,
  db: Database,
  keyId: string,
  ownerId: string,
  now: number,
): void {
  databases
    .statement(
      db,
      'INSERT INTO billing_downgraded_api_keys (key_id, owner_id, downgraded_at) VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING',
    )
    .run(keyId, ownerId, now);
}
