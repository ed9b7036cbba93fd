// Runs the five SOVREN apps as child processes for the dev launcher: port assignment, log files, readiness
// polling of /health/ready, reporting unexpected exits, and orderly stop (SIGTERM, then SIGKILL).

import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { LauncherError, findFreePort, isPortFree, isRunning, stopProcess, tailFile } from './process-control.mjs';

/** The services, their port variables (read by libs/config) and default ports. */
export const SERVICES = [
  { name: 'auth', portVariable: 'SOVREN_AUTH_PORT', defaultPort: 3101 },
  { name: 'billing', portVariable: 'SOVREN_BILLING_PORT', defaultPort: 3102 },
  { name: 'voice', portVariable: 'SOVREN_VOICE_PORT', defaultPort: 3103 },
  { name: 'inference', portVariable: 'SOVREN_INFERENCE_PORT', defaultPort: 3104 },
  { name: 'monitoring', portVariable: 'SOVREN_MONITORING_PORT', defaultPort: 3105 },
];

/**
 * Resolves each service's port: its variable, else the default; a taken port is replaced by a free one and
 * reported through `log`. Returns {ports: Map(name → port), env: {SOVREN_<NAME>_PORT: '...'}}.
 */
export async function assignPorts(environment, log, host = '127.0.0.1') {
  const ports = new Map();
  const env = {};
  for (const service of SERVICES) {
    const raw = environment[service.portVariable];
    const wanted = raw === undefined || raw === '' ? service.defaultPort : Number(raw);
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > 65535) {
      throw new LauncherError(`${service.portVariable}=${raw} is not a TCP port (1-65535)`);
    }
    let port = wanted;
    if ([...ports.values()].includes(port) || !(await isPortFree(port, host))) {
      port = await findFreePort(host);
      log(`port ${wanted} for ${service.name} is taken; using ${port} instead`);
    }
    ports.set(service.name, port);
    env[service.portVariable] = String(port);
  }
  return { ports, env };
}

/** GET http://host:port/path; resolves the status code, or 0 with the reason when there is no answer. */
export function httpStatus(host, port, path, timeoutMs = 2_000) {
  return new Promise((resolvePromise) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, reason: `HTTP ${res.statusCode}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolvePromise({ status: 0, reason: error.message }));
    req.end();
  });
}

export class AppSupervisor {
  /**
   * appEnv(name) adds variables for one app only (e.g. its own NATS user).
   * @param {{repoRoot: string, distDir?: string, logDir: string, env: Record<string,string>, host?: string,
   *          appEnv?: (name: string) => Record<string,string>,
   *          log: (line: string) => void, onUnexpectedExit?: (app: object, code: number|null, signal: string|null) => void}} options
   */
  constructor({
    repoRoot,
    distDir = join(repoRoot, 'dist'),
    logDir,
    env,
    appEnv = () => ({}),
    host = '127.0.0.1',
    log,
    onUnexpectedExit,
  }) {
    this.repoRoot = repoRoot;
    this.distDir = distDir;
    this.logDir = logDir;
    this.env = env;
    this.appEnv = appEnv;
    this.host = host;
    this.log = log;
    this.onUnexpectedExit = onUnexpectedExit ?? (() => undefined);
    this.apps = [];
    this.stopping = false;
  }

  /** Path of the webpack bundle of an app. */
  scriptOf(name) {
    return join(this.distDir, 'apps', name, 'main.js');
  }

  /** Starts `node dist/apps/<name>/main.js` with its output appended to <logDir>/<name>.log. */
  start(name, port) {
    const script = this.scriptOf(name);
    if (!existsSync(script))
      throw new LauncherError(`${script} does not exist: build the apps first (drop --no-build)`);
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    let child;
    try {
      writeSync(fd, `\n=== ${new Date().toISOString()} dev launcher starts ${name} on ${this.host}:${port} ===\n`);
      // Detached (own process group): a terminal Ctrl-C reaches only the launcher, which stops apps in order.
      child = spawn(process.execPath, [script], {
        cwd: this.repoRoot,
        env: { ...this.env, ...this.appEnv(name) },
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    const app = { name, port, logFile, child, exited: false, exitCode: null, exitSignal: null };
    child.on('error', (error) => {
      app.exited = true;
      app.spawnError = error.message;
    });
    child.on('exit', (code, signal) => {
      app.exited = true;
      app.exitCode = code;
      app.exitSignal = signal;
      if (!this.stopping) this.onUnexpectedExit(app, code, signal);
    });
    this.apps.push(app);
    return app;
  }

  /**
   * Polls every app's /health/ready until all answer 200 or timeoutMs passes; an app that exits fails at
   * once. Resolves {ok, notReady: [{name, reason, logFile}]}.
   */
  async waitUntilReady(timeoutMs = 120_000, intervalMs = 500) {
    const deadline = Date.now() + timeoutMs;
    const last = new Map(this.apps.map((app) => [app.name, 'not polled yet']));
    const pending = new Set(this.apps);
    while (pending.size > 0) {
      for (const app of [...pending]) {
        if (app.exited) {
          last.set(app.name, app.spawnError ?? `exited (code ${app.exitCode}, signal ${app.exitSignal})`);
          return { ok: false, notReady: this.describe(pending, last) };
        }
        const { status, reason } = await httpStatus(this.host, app.port, '/health/ready');
        if (status === 200) pending.delete(app);
        else last.set(app.name, reason);
      }
      if (pending.size === 0) break;
      if (Date.now() >= deadline) return { ok: false, notReady: this.describe(pending, last) };
      await new Promise((resolvePromise) => setTimeout(resolvePromise, intervalMs));
    }
    return { ok: true, notReady: [] };
  }

  describe(apps, last) {
    return [...apps].map((app) => ({
      name: app.name,
      reason: last.get(app.name),
      logFile: app.logFile,
      logTail: tailFile(app.logFile),
    }));
  }

  /** Children still running (for the last-resort kill on process exit). */
  running() {
    return this.apps.filter((app) => isRunning(app.child));
  }

  /** SIGTERM to every app at once, SIGKILL to those still running after timeoutMs. Resolves per-app outcomes. */
  async stopAll(timeoutMs = 15_000) {
    this.stopping = true;
    const outcomes = await Promise.all(
      this.apps.map(async (app) => ({
        name: app.name,
        outcome: await stopProcess(app.child, { timeoutMs, group: true }),
      })),
    );
    return outcomes;
  }
}
