// Specification of the PostgreSQL schema and data-access rules against a real, throwaway database.

import { testPlatformConfig } from '@sovren/config/testing';
import type { DataSource, Repository } from 'typeorm';
import {
  createPostgresDataSource,
  OptimisticLockError,
  Organization,
  POSTGRES_MIGRATIONS_TABLE,
  RowNotFoundError,
  runMigrations,
  updateWithVersion,
} from '../index';
import { postgresMigrations } from '@sovren/migrations';
import { createThrowawayDatabase, type ThrowawayPostgres } from '@sovren/testing';

interface AuditRow {
  operation: string;
  row_id: string;
  old_data: Record<string, unknown> | null;
  new_data: Record<string, unknown> | null;
  changed_by: string;
}

describe('PostgreSQL data source', () => {
  let database: ThrowawayPostgres;
  let dataSource: DataSource;
  let organizations: Repository<Organization>;

  beforeAll(async () => {
    database = await createThrowawayDatabase();
    dataSource = createPostgresDataSource(testPlatformConfig({ SOVREN_DATABASE_URL: database.url }));
    await dataSource.initialize();
    organizations = dataSource.getRepository(Organization);
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await database?.drop();
  });

  it('applies the migrations to an empty database, and a second run applies nothing', async () => {
    const first = await runMigrations(dataSource);
    expect(first.applied).toEqual(postgresMigrations.map((migration) => migration.name));
    const second = await runMigrations(dataSource);
    expect(second.applied).toEqual([]);
    const tables = await dataSource.query<Array<{ table_name: string }>>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((row) => row.table_name)).toEqual(
      expect.arrayContaining(['audit_log', 'migrations_postgres', 'organizations']),
    );
    expect(POSTGRES_MIGRATIONS_TABLE).toBe('migrations_postgres');
  });

  it('stores the base columns with the database generating id and timestamps', async () => {
    const saved = await organizations.save(organizations.create({ name: 'Base Columns', slug: 'base-columns' }));
    expect(saved.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(saved.version).toBe(1);
    expect(saved.createdAt).toBeInstanceOf(Date);
    expect(saved.deletedAt).toBeNull();
    const columns = await dataSource.query<Array<{ column_name: string; data_type: string }>>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'organizations' ORDER BY ordinal_position`,
    );
    expect(columns.map((column) => column.column_name)).toEqual([
      'id',
      'created_at',
      'updated_at',
      'deleted_at',
      'version',
      'name',
      'slug',
    ]);
    expect(columns.find((column) => column.column_name === 'created_at')?.data_type).toBe('timestamp with time zone');
  });

  it('records insert, update (old and new data) and delete in audit_log through the trigger', async () => {
    const org = await organizations.save(organizations.create({ name: 'Acme', slug: 'acme' }));
    org.name = 'Acme Labs';
    await updateWithVersion(organizations, org);
    await organizations.delete(org.id);

    const rows = await dataSource.query<AuditRow[]>(
      `SELECT operation, row_id, old_data, new_data, changed_by FROM audit_log
       WHERE table_name = 'organizations' AND row_id = $1 ORDER BY id`,
      [org.id],
    );
    expect(rows.map((row) => row.operation)).toEqual(['INSERT', 'UPDATE', 'DELETE']);
    const [insert, update, remove] = rows as [AuditRow, AuditRow, AuditRow];
    expect(insert.old_data).toBeNull();
    expect(insert.new_data).toMatchObject({ name: 'Acme', slug: 'acme', version: 1 });
    expect(update.old_data).toMatchObject({ name: 'Acme', version: 1 });
    expect(update.new_data).toMatchObject({ name: 'Acme Labs', version: 2 });
    expect(remove.old_data).toMatchObject({ name: 'Acme Labs' });
    expect(remove.new_data).toBeNull();
    expect(update.changed_by).toBe('postgres');
  });

  it('records the acting user set with sovren.actor', async () => {
    const org = await organizations.save(organizations.create({ name: 'Actor', slug: 'actor' }));
    await dataSource.transaction(async (manager) => {
      await manager.query(`SELECT set_config('sovren.actor', 'user-42', true)`);
      await manager.query(`UPDATE organizations SET name = 'Actor 2' WHERE id = $1`, [org.id]);
    });
    const [row] = await dataSource.query<AuditRow[]>(
      `SELECT changed_by FROM audit_log WHERE row_id = $1 AND operation = 'UPDATE'`,
      [org.id],
    );
    expect(row?.changed_by).toBe('user-42');
  });

  it('rejects a stale write with OptimisticLockError naming the entity and id', async () => {
    const created = await organizations.save(organizations.create({ name: 'Contended', slug: 'contended' }));
    const readByAlice = await organizations.findOneByOrFail({ id: created.id });
    const readByBob = await organizations.findOneByOrFail({ id: created.id });

    readByAlice.name = 'Alice was here';
    const saved = await updateWithVersion(organizations, readByAlice);
    expect(saved.version).toBe(2);

    readByBob.name = 'Bob was here';
    const stale = updateWithVersion(organizations, readByBob);
    await expect(stale).rejects.toBeInstanceOf(OptimisticLockError);
    await expect(stale).rejects.toThrow(`Organization ${created.id} was changed by someone else`);
    expect((await organizations.findOneByOrFail({ id: created.id })).name).toBe('Alice was here');
  });

  it('refuses to update a row that was deleted', async () => {
    const org = await organizations.save(organizations.create({ name: 'Gone', slug: 'gone' }));
    await organizations.softDelete(org.id);
    org.name = 'Back?';
    await expect(updateWithVersion(organizations, org)).rejects.toBeInstanceOf(RowNotFoundError);
  });

  it('hides soft-deleted rows from normal queries but keeps them in the table', async () => {
    const org = await organizations.save(organizations.create({ name: 'Soft', slug: 'soft' }));
    await organizations.softDelete(org.id);
    expect(await organizations.findOneBy({ id: org.id })).toBeNull();
    const kept = await organizations.findOne({ where: { id: org.id }, withDeleted: true });
    expect(kept?.deletedAt).toBeInstanceOf(Date);
  });

  it('enforces the slug format and uniqueness in the database', async () => {
    await expect(organizations.insert({ name: 'Bad', slug: 'Not A Slug' })).rejects.toThrow(
      /chk_organizations_slug_format/,
    );
    await organizations.insert({ name: 'Unique', slug: 'unique' });
    await expect(organizations.insert({ name: 'Unique 2', slug: 'unique' })).rejects.toThrow(/uq_organizations_slug/);
  });
});
