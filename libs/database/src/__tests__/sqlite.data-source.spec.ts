// Specification of the SQLite data sources against real files under a temporary SOVREN_ROOT.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SQLITE_DATABASES, type PlatformConfig } from '@sovren/config';
import { testPlatformConfig } from '@sovren/config/testing';
import type { DataSource } from 'typeorm';
import {
  createSqliteDataSource,
  OptimisticLockError,
  runMigrations,
  SchemaInfo,
  sqliteMigrationsTable,
  updateWithVersion,
  User,
} from '../index';
import { sqliteMigrations } from '@sovren/migrations';
import { createTempRoot } from './temp-root';

describe('SQLite data sources', () => {
  const temp = createTempRoot();
  let config: PlatformConfig;
  const opened: DataSource[] = [];

  async function open(name: (typeof SQLITE_DATABASES)[number]): Promise<DataSource> {
    const dataSource = createSqliteDataSource(config, name);
    opened.push(dataSource);
    await dataSource.initialize();
    return dataSource;
  }

  beforeAll(() => {
    // A root whose data folder does not exist yet: the data source must create it.
    config = testPlatformConfig({ SOVREN_ROOT: join(temp.root, 'sovren') });
  });

  afterAll(async () => {
    await Promise.all(opened.filter((ds) => ds.isInitialized).map((ds) => ds.destroy()));
    temp.remove();
  });

  it.each(SQLITE_DATABASES)(
    'creates %s.db under SOVREN_ROOT/data, migrates it idempotently, WAL and foreign keys on',
    async (name) => {
      const dataSource = await open(name);
      expect(existsSync(join(temp.root, 'sovren', 'data', `${name}.db`))).toBe(true);

      const first = await runMigrations(dataSource);
      expect(first.applied).toEqual(sqliteMigrations[name].map((migration) => migration.name));
      expect((await runMigrations(dataSource)).applied).toEqual([]);

      const [journal] = await dataSource.query<Array<{ journal_mode: string }>>('PRAGMA journal_mode');
      expect(journal?.journal_mode).toBe('wal');
      const [foreignKeys] = await dataSource.query<Array<{ foreign_keys: number }>>('PRAGMA foreign_keys');
      expect(foreignKeys?.foreign_keys).toBe(1);

      const tables = await dataSource.query<Array<{ name: string }>>(
        `SELECT name FROM sqlite_master WHERE type = 'table'`,
      );
      expect(tables.map((table) => table.name)).toContain(sqliteMigrationsTable(name));

      const info = await dataSource.getRepository(SchemaInfo).findOneByOrFail({ key: 'database' });
      expect(info.value).toBe(name);
      expect(info.version).toBe(1);
    },
  );

  it('stores users with the base columns and rejects a stale write', async () => {
    const dataSource = opened.find((ds) => String(ds.options.database).endsWith('users.db')) ?? (await open('users'));
    const users = dataSource.getRepository(User);
    const created = await users.save(users.create({ email: 'ada@example.test', displayName: 'Ada' }));
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.version).toBe(1);

    const first = await users.findOneByOrFail({ id: created.id });
    const second = await users.findOneByOrFail({ id: created.id });
    first.displayName = 'Ada L.';
    expect((await updateWithVersion(users, first)).version).toBe(2);
    second.displayName = 'Countess';
    await expect(updateWithVersion(users, second)).rejects.toThrow(OptimisticLockError);
    await expect(updateWithVersion(users, second)).rejects.toThrow(`User ${created.id}`);
  });

  it('hides soft-deleted users and frees their e-mail address', async () => {
    const dataSource = opened.find((ds) => String(ds.options.database).endsWith('users.db')) ?? (await open('users'));
    const users = dataSource.getRepository(User);
    const user = await users.save(users.create({ email: 'grace@example.test', displayName: 'Grace' }));
    await expect(users.insert({ email: 'grace@example.test', displayName: 'Copy' })).rejects.toThrow(/UNIQUE/);
    await users.softDelete(user.id);
    expect(await users.findOneBy({ id: user.id })).toBeNull();
    expect((await users.findOne({ where: { id: user.id }, withDeleted: true }))?.deletedAt).not.toBeNull();
    await expect(users.insert({ email: 'grace@example.test', displayName: 'New Grace' })).resolves.toBeDefined();
  });

  it('refuses an unknown database name', () => {
    expect(() => createSqliteDataSource(config, 'billing' as never)).toThrow(/Unknown SQLite database "billing"/);
  });
});
