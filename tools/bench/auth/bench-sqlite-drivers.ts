// bench-sqlite-drivers: the API-key lookup auth runs on every guarded request (one indexed SELECT by key hash on
// api_auth.db), timed with the SQLite driver we use (better-sqlite3, synchronous) and with the one the design named
// (sqlite3, asynchronous: each statement runs on libuv's thread pool and answers through a callback), on the same
// file in the same run. sqlite3 is not a dependency of the project (its prebuilt binaries come from an outside host;
// it builds from source in ~2 min): install it anywhere and pass that node_modules folder.
//
// Usage (repo root):
//   (mkdir -p /tmp/sq && cd /tmp/sq && npm install sqlite3@5.1.7 --build-from-source)   # once, optional
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/auth/bench-sqlite-drivers.ts [--keys 10000] [--lookups 20000] [--in-flight 1,8] \
//     [--sqlite3-from /tmp/sq/node_modules]
// Prints per driver: µs per lookup (p50/p99 of 5 rounds' means), lookups per second with N in flight, and the
// ratio of sqlite3 to better-sqlite3 measured in the same run.
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { BenchArgs } from '../common/bench-args';
import { median } from '../common/percentile';

const LOOKUP =
  'SELECT "id", "user_id", "scopes", "tier", "expires_at", "revoked_at" FROM "api_keys" WHERE "key_hash" = ?';

interface Sqlite3Statement {
  get(params: unknown[], callback: (error: Error | null, row: unknown) => void): void;
  finalize(callback: () => void): void;
}
interface Sqlite3Database {
  prepare(sql: string, callback: (error: Error | null) => void): Sqlite3Statement;
  close(callback: (error: Error | null) => void): void;
}
interface Sqlite3Module {
  Database: new (file: string, mode: number, callback: (error: Error | null) => void) => Sqlite3Database;
  OPEN_READONLY: number;
}

const args = new BenchArgs('bench-sqlite-drivers', process.argv.slice(2), {
  values: ['keys', 'lookups', 'in-flight', 'sqlite3-from'],
});
const keyCount = args.int('keys', 10_000, 1);
const lookups = args.int('lookups', 20_000, 100);
const inFlight = args.intList('in-flight', [1, 8], 1);
const sqlite3From = args.string('sqlite3-from', '');
const ROUNDS = 5;

function seed(file: string): string[] {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE "api_keys" ("id" varchar PRIMARY KEY NOT NULL, "user_id" varchar NOT NULL,
    "name" varchar(100) NOT NULL, "prefix" varchar(32) NOT NULL, "key_hash" varchar(64) NOT NULL UNIQUE,
    "scopes" text NOT NULL, "tier" varchar(20) NOT NULL, "created_at" integer NOT NULL, "last_used_at" integer,
    "expires_at" integer, "revoked_at" integer)`);
  const insert = db.prepare(
    `INSERT INTO "api_keys" ("id", "user_id", "name", "prefix", "key_hash", "scopes", "tier", "created_at")
     VALUES (?, ?, 'bench', ?, ?, 'inference:generate', 'authenticated', 0)`,
  );
  const hashes: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < keyCount; i += 1) {
      const hash = createHash('sha256').update(randomBytes(32)).digest('hex');
      hashes.push(hash);
      insert.run(`key-${i}`, `user-${i % 100}`, `sov_${i}`, hash);
    }
  })();
  db.close();
  return hashes;
}

/** The keys looked up, in a fixed pseudo-random order. */
function order(hashes: string[]): string[] {
  const out: string[] = [];
  let x = 12345;
  for (let i = 0; i < lookups; i += 1) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(hashes[x % hashes.length]);
  }
  return out;
}

function benchBetter(file: string, keys: string[]): number[] {
  const db = new Database(file, { readonly: true });
  const statement = db.prepare(LOOKUP);
  const means: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const started = process.hrtime.bigint();
    for (const key of keys) if (!statement.get(key)) throw new Error('better-sqlite3: a seeded key was not found');
    means.push(Number(process.hrtime.bigint() - started) / 1e3 / keys.length);
  }
  db.close();
  return means;
}

async function benchSqlite3(sqlite3: Sqlite3Module, file: string, keys: string[], parallel: number): Promise<number[]> {
  const db = await new Promise<Sqlite3Database>((resolve, reject) => {
    const opened = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) =>
      error ? reject(error) : resolve(opened),
    );
  });
  const statement = await new Promise<Sqlite3Statement>((resolve, reject) => {
    const prepared = db.prepare(LOOKUP, (error) => (error ? reject(error) : resolve(prepared)));
  });
  const get = (key: string) =>
    new Promise<void>((resolve, reject) =>
      statement.get([key], (error, row) =>
        error ? reject(error) : row ? resolve() : reject(new Error('sqlite3: a seeded key was not found')),
      ),
    );
  const means: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (next < keys.length) await get(keys[next++]);
      }),
    );
    means.push(Number(process.hrtime.bigint() - started) / 1e3 / keys.length);
  }
  await new Promise<void>((resolve) => statement.finalize(() => resolve()));
  await new Promise<void>((resolve, reject) => db.close((error) => (error ? reject(error) : resolve())));
  return means;
}

function row(name: string, means: number[], reference?: number): string {
  const p50 = median(means);
  const ratio = reference ? `  ${(p50 / reference).toFixed(2)}x better-sqlite3` : '';
  return `${name.padEnd(34)} ${p50.toFixed(2).padStart(8)} µs/lookup (rounds ${Math.min(...means).toFixed(2)}-${Math.max(...means).toFixed(2)})  ${Math.round(
    1e6 / p50,
  )
    .toLocaleString('en-US')
    .padStart(9)} lookups/s${ratio}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
  try {
    const file = join(dir, 'api_auth.db');
    const keys = order(seed(file));
    console.log(
      `bench-sqlite-drivers: ${keyCount} keys, ${lookups} lookups x ${ROUNDS} rounds, WAL, prepared statement; ` +
        `${cpus().length} cores, load ${loadavg()[0].toFixed(2)}, libuv pool ${process.env['UV_THREADPOOL_SIZE'] ?? 4}`,
    );
    const better = benchBetter(file, keys);
    const reference = median(better);
    console.log(row('better-sqlite3 (synchronous)', better));
    if (!sqlite3From) {
      console.log('sqlite3: not measured (pass --sqlite3-from <node_modules folder holding sqlite3>)');
      return;
    }
    const sqlite3 = createRequire(join(sqlite3From, 'noop.js'))('sqlite3') as Sqlite3Module;
    for (const parallel of inFlight) {
      console.log(
        row(
          `sqlite3 (thread pool, ${parallel} in flight)`,
          await benchSqlite3(sqlite3, file, keys, parallel),
          reference,
        ),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench-sqlite-drivers: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
