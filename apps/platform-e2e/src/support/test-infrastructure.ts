// A throwaway PostgreSQL database for the platform tests, on the server that CI or the developer provides
// (SOVREN_TEST_DATABASE_URL).
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export class ThrowawayDatabase {
  private constructor(readonly url: string, private readonly adminUrl: string, private readonly name: string) {}

  static async create(): Promise<ThrowawayDatabase> {
    const adminUrl = process.env['SOVREN_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `sovren_it_${randomBytes(6).toString('hex')}`;
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return new ThrowawayDatabase(url.toString(), adminUrl, name);
  }

  async drop(): Promise<void> {
    const admin = new Client({ connectionString: this.adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
}
