// NATS for the dev launcher: use the server at SOVREN_NATS_URL when it really answers, otherwise start a
// local `nats-server -js` on a free port (installing Debian's nats-server with apt when root and missing), by
// default with one user per service and its permissions (tools/nats), as deploy/install.sh configures it.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';

import { loadOrCreateCredentials, renderNatsServerConfig, writePrivateFile } from '../nats/nats-server-config.mjs';
import {
  LauncherError,
  canConnect,
  findExecutable,
  findFreePort,
  isRunning,
  pollUntil,
  runCommand,
  stopProcess,
  tailFile,
} from './process-control.mjs';

/**
 * Probes a NATS URL: TCP connect, then a real NATS handshake and flush (as `auth` {user, pass} when given).
 * Resolves {ok, reason}.
 */
export async function probeNats(url, timeoutMs = 2_000, auth = {}) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: `not a valid URL: ${url}` };
  }
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port || 4222);
  if (!(await canConnect(host, port, timeoutMs))) return { ok: false, reason: `nothing listens on ${host}:${port}` };
  let connection;
  try {
    connection = await connect({
      servers: url,
      timeout: timeoutMs,
      reconnect: false,
      name: 'sovren-dev-launcher-probe',
      ...auth,
    });
    await connection.flush();
    return { ok: true, reason: 'connected' };
  } catch (error) {
    return { ok: false, reason: `NATS handshake failed: ${error.message}` };
  } finally {
    if (connection) await connection.close();
  }
}

/** Returns the nats-server path, installing Debian's package when running as root. */
export async function ensureNatsServerBinary(log) {
  const existing = findExecutable('nats-server');
  if (existing) return existing;
  if (process.getuid?.() !== 0) {
    throw new LauncherError(
      'nats-server is not installed and no NATS is reachable at SOVREN_NATS_URL. Install it with ' +
        '`sudo apt-get install -y nats-server` (Debian/Ubuntu), or point SOVREN_NATS_URL at a running NATS with JetStream.',
    );
  }
  log('nats-server is missing: installing Debian package nats-server');
  let result = await runCommand('apt-get', ['install', '-y', 'nats-server'], { quiet: true });
  if (result.code !== 0) {
    log('apt-get install failed; running apt-get update and retrying');
    const update = await runCommand('apt-get', ['update'], { quiet: true });
    if (update.code !== 0) throw new LauncherError(`apt-get update failed:\n${update.output.trim()}`);
    result = await runCommand('apt-get', ['install', '-y', 'nats-server'], { quiet: true });
  }
  if (result.code !== 0) throw new LauncherError(`apt-get install -y nats-server failed:\n${result.output.trim()}`);
  const installed = findExecutable('nats-server');
  if (!installed)
    throw new LauncherError('apt-get installed nats-server but the binary is not on PATH or in /usr/sbin');
  return installed;
}

/**
 * Starts nats-server with JetStream on 127.0.0.1:<free port>, storing streams under storeDir, logging to
 * logFile. With `credentials` ({service: {user, password}}) it runs with the generated users and permissions
 * (configuration written to configFile, mode 0600) and accepts no anonymous connection. Resolves
 * {url, pid, stop()} once it answers a NATS handshake.
 */
export async function startNatsServer({ binary, storeDir, logFile, credentials, configFile, startTimeoutMs = 20_000 }) {
  mkdirSync(storeDir, { recursive: true });
  const port = await findFreePort();
  const url = `nats://127.0.0.1:${port}`;
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];
  let probeAuth = {};
  if (credentials) {
    // The store directory stays on the command line (-sd): nats-server refuses it in both places.
    writePrivateFile(configFile, renderNatsServerConfig({ host: '127.0.0.1', port, credentials }));
    args.unshift('-c', configFile);
    // Any configured user proves the server answers; monitoring's is as good as another.
    probeAuth = { user: credentials.monitoring.user, pass: credentials.monitoring.password };
  }
  const logFd = openSync(logFile, 'a');
  let child;
  try {
    // Detached: a terminal Ctrl-C reaches only the launcher, which then stops NATS after the apps.
    child = spawn(binary, args, {
      stdio: ['ignore', logFd, logFd],
      detached: true,
    });
  } finally {
    closeSync(logFd);
  }
  const spawnError = new Promise((resolvePromise) => child.once('error', (error) => resolvePromise(error)));
  const ready = await Promise.race([
    pollUntil(async () => !isRunning(child) || (await probeNats(url, 1_000, probeAuth)).ok, {
      timeoutMs: startTimeoutMs,
    }),
    spawnError,
  ]);
  if (ready instanceof Error) throw new LauncherError(`could not start ${binary}: ${ready.message}`);
  if (!ready || !isRunning(child)) {
    await stopProcess(child, { timeoutMs: 2_000 });
    throw new LauncherError(`nats-server did not come up on ${url}; last lines of ${logFile}:\n${tailFile(logFile)}`);
  }
  return {
    url,
    pid: child.pid,
    child,
    stop: (timeoutMs = 5_000) => stopProcess(child, { signal: 'SIGTERM', timeoutMs }),
  };
}

/**
 * Uses NATS at `url` when reachable (the services then connect with whatever SOVREN_NATS_USER / _PASSWORD the
 * environment has, or anonymously), else starts one. A started one has one user per service, its credentials
 * kept in <root>/nats-credentials/<service>.env (0600; e.g. for `nx serve <app>` against it), unless
 * `permissions` is false (the test command's server, which test clients use as any party).
 * Resolves {url, started, credentials?, stop()}; stop() is a no-op for a server the launcher did not start.
 */
export async function ensureNats({ url, root, logDir, log, permissions = true }) {
  const probe = await probeNats(url);
  // A server that refuses anonymous connections is usable when the environment carries a user for it.
  const envAuth = process.env.SOVREN_NATS_USER
    ? { user: process.env.SOVREN_NATS_USER, pass: process.env.SOVREN_NATS_PASSWORD }
    : undefined;
  if (probe.ok || (envAuth && (await probeNats(url, 2_000, envAuth)).ok)) {
    log(`using NATS at ${url}`);
    return { url, started: false, stop: async () => 'not-started' };
  }
  log(`NATS at ${url} is not usable (${probe.reason}); starting a local nats-server with JetStream`);
  const binary = await ensureNatsServerBinary(log);
  const credentials = permissions ? loadOrCreateCredentials(join(root, 'nats-credentials')).credentials : undefined;
  const configFile = join(root, 'nats-server.conf');
  const server = await startNatsServer({
    binary,
    storeDir: join(root, 'nats'),
    logFile: join(logDir, 'nats-server.log'),
    credentials,
    configFile,
  });
  log(
    `started nats-server (pid ${server.pid}) at ${server.url}, store ${join(root, 'nats')}` +
      (credentials ? `, one user per service (${configFile})` : ', anonymous access'),
  );
  return { url: server.url, started: true, credentials, stop: server.stop, child: server.child };
}
