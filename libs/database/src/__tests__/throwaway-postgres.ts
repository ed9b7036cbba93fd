// Test support: a throwaway PostgreSQL database per test run (created here, dropped afterwards), and a temp
// SOVREN_ROOT for SQLite files. Connects as postgres@127.0.0.1:5432 unless SOVREN_TEST_DATABASE_URL is set.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

const ADMIN_URL = process.env['SOVREN_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ThrowawayPostgres {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function admin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** `name` must be a fresh identifier of lower-case letters, digits and underscores (it is not quoted). */
export async function createThrowawayDatabase(name = `sovren_test_${randomBytes(6).toString('hex')}`): Promise<ThrowawayPostgres> {
  if (!/^sovren_test_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to create test database "${name}"`);
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: withDatabase(ADMIN_URL, name),
    drop: () => dropThrowawayDatabase(name),
  };
}

export async function dropThrowawayDatabase(name: string): Promise<void> {
  if (!/^sovren_test_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop database "${name}"`);
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export function testDatabaseUrl(name: string): string {
  return withDatabase(ADMIN_URL, name);
}

export function createTempRoot(): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'sovren-db-test-'));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
