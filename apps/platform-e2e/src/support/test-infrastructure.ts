// Real infrastructure for the platform tests: a NATS server of our own (so a test can stop it) and a throwaway
// PostgreSQL database on the server that CI / the developer provides (SOVREN_TEST_DATABASE_URL).
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { Client } from 'pg';

import { OwnedProcess } from './child-process';
import { freePort } from './free-port';

export async function waitForTcp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class TestNatsServer {
  private process: OwnedProcess | undefined;

  private constructor(readonly port: number, private readonly storeDir: string) {}

  static async start(storeDir: string): Promise<TestNatsServer> {
    const server = new TestNatsServer(await freePort(), storeDir);
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const binary = process.env['SOVREN_NATS_SERVER_BIN'] ?? 'nats-server';
    this.process = new OwnedProcess('nats-server', binary, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], process.env);
    await waitForTcp(this.port, 10_000);
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = undefined;
  }
}

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
