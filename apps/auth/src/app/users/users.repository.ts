// users.db: the local user records (users) and their linked provider identities (user_identities). Raw SQL on
// the migrated schema (migrations/users/); the columns are those of SovrenBaseEntity plus auth's own.
import { Injectable } from '@nestjs/common';
import type { AuthRole } from '@sovren/messaging';
import { randomUUID } from 'node:crypto';

import { AuthDatabases } from '../storage/auth-databases';

export interface IdentityRecord {
  provider: string;
  subject: string;
  email: string | null;
  linked_at: string;
}

export interface UserRecord {
  id: string;
  email: string | null;
  displayName: string;
  role: AuthRole;
}

interface UserRow {
  id: string;
  email: string | null;
  display_name: string;
  role: AuthRole;
}

function toUser(row: UserRow): UserRecord {
  return { id: row.id, email: row.email, displayName: row.display_name, role: row.role };
}

@Injectable()
export class UsersRepository {
  constructor(private readonly databases: AuthDatabases) {}

  findById(id: string): UserRecord | undefined {
    const db = this.databases.handle('users');
    const row = this.databases
      .statement(db, 'SELECT id, email, display_name, role FROM users WHERE id = ? AND deleted_at IS NULL')
      .get(id) as UserRow | undefined;
    return row ? toUser(row) : undefined;
  }

  /** The user holding `email` (emails are unique among live users). */
  findByEmail(email: string): UserRecord | undefined {
    const db = this.databases.handle('users');
    const row = this.databases
      .statement(db, 'SELECT id, email, display_name, role FROM users WHERE email = ? AND deleted_at IS NULL')
      .get(email) as UserRow | undefined;
    return row ? toUser(row) : undefined;
  }

  /** Every live user, oldest first. */
  list(): UserRecord[] {
    const db = this.databases.handle('users');
    const rows = this.databases
      .statement(db, 'SELECT id, email, display_name, role FROM users WHERE deleted_at IS NULL ORDER BY created_at, id')
      .all() as UserRow[];
    return rows.map(toUser);
  }

  /** Role lookup on the validation hot path; undefined when the user no longer exists. */
  roleOf(id: string): AuthRole | undefined {
    const db = this.databases.handle('users');
    const row = this.databases.statement(db, 'SELECT role FROM users WHERE id = ? AND deleted_at IS NULL').get(id) as
      | { role: AuthRole }
      | undefined;
    return row?.role;
  }

  create(fields: { email: string | null; displayName: string; role?: AuthRole }): UserRecord {
    const db = this.databases.handle('users');
    const id = randomUUID();
    this.databases
      .statement(db, 'INSERT INTO users (id, email, display_name, role) VALUES (?, ?, ?, ?)')
      .run(id, fields.email, fields.displayName, fields.role ?? 'user');
    return { id, email: fields.email, displayName: fields.displayName, role: fields.role ?? 'user' };
  }

  setRole(id: string, role: AuthRole): void {
    const db = this.databases.handle('users');
    this.databases
      .statement(db, "UPDATE users SET role = ?, version = version + 1, updated_at = datetime('now') WHERE id = ?")
      .run(role, id);
  }

  /** The user a provider identity belongs to, if any. */
  userOfIdentity(provider: string, subject: string): string | undefined {
    const db = this.databases.handle('users');
    const row = this.databases
      .statement(db, 'SELECT user_id FROM user_identities WHERE provider = ? AND subject = ? AND deleted_at IS NULL')
      .get(provider, subject) as { user_id: string } | undefined;
    return row?.user_id;
  }

  /**
   * Creates a user for a first login. A verified email is kept, unless another account already holds it: that
   * account is not taken over (linking is explicit, while signed in), the new one simply has no email.
   */
  createForIdentity(fields: { email: string | null; displayName: string; role: AuthRole }): UserRecord {
    const db = this.databases.handle('users');
    const email = fields.email;
    const taken =
      email !== null &&
      this.databases.statement(db, 'SELECT 1 FROM users WHERE email = ? AND deleted_at IS NULL').get(email) !==
        undefined;
    return this.create({
      email: taken ? null : email,
      displayName: fields.displayName,
      role: taken ? 'user' : fields.role,
    });
  }

  /** Links a provider identity to a user (first login, or "link" while signed in); records the login time. */
  linkIdentity(userId: string, provider: string, subject: string, email: string | null): void {
    const db = this.databases.handle('users');
    this.databases
      .statement(
        db,
        `INSERT INTO user_identities (id, user_id, provider, subject, email, last_login_at) VALUES (?, ?, ?, ?, ?, datetime('now'))
         ON CONFLICT (provider, subject) DO UPDATE SET email = excluded.email, last_login_at = excluded.last_login_at,
           updated_at = datetime('now'), version = version + 1`,
      )
      .run(randomUUID(), userId, provider, subject, email);
  }

  identitiesOf(userId: string): IdentityRecord[] {
    const db = this.databases.handle('users');
    return this.databases
      .statement(
        db,
        'SELECT provider, subject, email, created_at AS linked_at FROM user_identities WHERE user_id = ? AND deleted_at IS NULL ORDER BY created_at',
      )
      .all(userId) as IdentityRecord[];
  }
}
