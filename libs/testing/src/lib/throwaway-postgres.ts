// A throwaway PostgreSQL database per test suite or benchmark run: created on the server CI or the developer
// provides (SOVREN_TEST_DATABASE_URL, default postgres@127.0.0.1:5432), dropped afterwards with its connections.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

const ADMIN_URL = process.env['SOVREN_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Only names of this shape are ever created or dropped, so a mistake cannot drop a real database. */
const TEST_DATABASE = /^sovren_test_[a-z0-9_]+$/;

export interface ThrowawayPostgres {
  name: string;
  url: string;
  drop(): Promise<void>;
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

/** The URL of database `name` on the test server. */
export function testDatabaseUrl(name: string): string {
  const parsed = new URL(ADMIN_URL);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * Creates `sovren_test_<label>_<random>` (or exactly `name` when given: lower-case letters, digits and underscores
 * starting with `sovren_test_`; it is not quoted).
 */
export async function createThrowawayDatabase(
  options: { label?: string; name?: string } = {},
): Promise<ThrowawayPostgres> {
  const name =
    options.name ?? `sovren_test_${options.label ? `${options.label}_` : ''}${randomBytes(6).toString('hex')}`;
  if (!TEST_DATABASE.test(name)) throw new Error(`refusing to create test database "${name}"`);
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  return { name, url: testDatabaseUrl(name), drop: () => dropThrowawayDatabase(name) };
}

export async function dropThrowawayDatabase(name: string): Promise<void> {
  if (!TEST_DATABASE.test(name)) throw new Error(`refusing to drop database "${name}"`);
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
