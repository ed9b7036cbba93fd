// Specification of DatabaseModule in a Nest application: migrations at start-up, health per data source,
// start-up without PostgreSQL and recovery once it is there, everything closed on shutdown.

import { Test } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import { ConfigModule } from '@sovren/config';
import { testPlatformConfig } from '@sovren/config/testing';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import {
  DatabaseHealth,
  DatabaseModule,
  DatabaseRegistry,
  Organization,
  POSTGRES_DATA_SOURCE,
  sqliteDataSourceToken,
} from '../index';
import {
  createThrowawayDatabase,
  dropThrowawayDatabase,
  testDatabaseUrl,
  type ThrowawayPostgres,
} from '@sovren/testing';

import { createTempRoot } from './temp-root';

async function startApp(databaseUrl: string, root: string): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(testPlatformConfig({ SOVREN_DATABASE_URL: databaseUrl, SOVREN_ROOT: root })),
      DatabaseModule.forRoot({
        postgres: true,
        sqlite: ['users', 'phone_numbers'],
        runMigrations: true,
        retry: { initialDelayMs: 100, maxDelayMs: 200 },
      }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('DatabaseModule', () => {
  const temp = createTempRoot();
  let database: ThrowawayPostgres;

  beforeAll(async () => {
    database = await createThrowawayDatabase();
  });

  afterAll(async () => {
    await database?.drop();
    temp.remove();
  });

  it('opens, migrates and health-checks every data source, then closes them on shutdown', async () => {
    const app = await startApp(database.url, join(temp.root, 'ready'));
    const postgres = app.get<DataSource>(POSTGRES_DATA_SOURCE);
    const users = app.get<DataSource>(sqliteDataSourceToken('users'));
    try {
      await expect(app.get(DatabaseHealth).check()).resolves.toEqual([
        { name: 'postgres', ok: true },
        { name: 'users', ok: true },
        { name: 'phone_numbers', ok: true },
      ]);
      await expect(postgres.getRepository(Organization).count()).resolves.toBe(0);
    } finally {
      await app.close();
    }
    expect(postgres.isInitialized).toBe(false);
    expect(users.isInitialized).toBe(false);
  });

  it('starts while PostgreSQL is unavailable, names it in the health check, and becomes ready when it appears', async () => {
    // A database that does not exist yet stands in for an unreachable server; creating it is "the server coming back".
    const lateName = `sovren_test_${randomBytes(6).toString('hex')}_late`;
    const app = await startApp(testDatabaseUrl(lateName), join(temp.root, 'late'));
    try {
      const health = await app.get(DatabaseHealth).check();
      expect(health.find((result) => result.name === 'postgres')).toMatchObject({
        ok: false,
        error: expect.stringContaining(lateName),
      });
      expect(health.find((result) => result.name === 'users')).toEqual({ name: 'users', ok: true });

      await createThrowawayDatabase({ name: lateName });
      await app.get(DatabaseRegistry).get('postgres').whenReady();
      const after = await app.get(DatabaseHealth).check();
      expect(after.every((result) => result.ok)).toBe(true);
      await expect(app.get<DataSource>(POSTGRES_DATA_SOURCE).getRepository(Organization).count()).resolves.toBe(0);
    } finally {
      await app.close();
      await dropThrowawayDatabase(lateName);
    }
  });
});
