#!/usr/bin/env node
// Runs a command with a PostgreSQL and a NATS (JetStream) server the tests can use: the ones at
// SOVREN_TEST_DATABASE_URL / SOVREN_TEST_NATS_URL (default 127.0.0.1:5432 / :4222) when they answer, otherwise
// local ones started for the run (the dev launcher's runtimes) and stopped afterwards. The command sees both
// URLs in its environment. Usage: node tools/ci/with-test-services.mjs -- <command> [args...]
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureNats } from '../dev/nats-runtime.mjs';
import { ensurePostgres } from '../dev/postgres-runtime.mjs';

const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');
const log = (line) => process.stdout.write(`[test-services] ${line}\n`);

const separator = process.argv.indexOf('--');
const command = separator >= 0 ? process.argv.slice(separator + 1) : [];
if (command.length === 0) {
  process.stderr.write('usage: node tools/ci/with-test-services.mjs -- <command> [args...]\n');
  process.exit(2);
}

const root = join(repoRoot, 'tmp', 'test-services');
const logDir = join(root, 'logs');
mkdirSync(logDir, { recursive: true });

// Anonymous: test clients play every party (the NATS permission spec starts its own server with the users).
const nats = await ensureNats({
  url: process.env.SOVREN_TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
  root,
  logDir,
  log,
  permissions: false,
});
let postgres;
try {
  postgres = await ensurePostgres({
    url: process.env.SOVREN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    explicit: process.env.SOVREN_TEST_DATABASE_URL !== undefined,
    root,
    logDir,
    log,
  });
} catch (error) {
  await nats.stop();
  process.stderr.write(`[test-services] ${error.message}\n`);
  process.exit(1);
}

const child = spawn(command[0], command.slice(1), {
  stdio: 'inherit',
  env: { ...process.env, SOVREN_TEST_NATS_URL: nats.url, SOVREN_TEST_DATABASE_URL: postgres.url },
});
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
const code = await new Promise((done) => {
  child.once('exit', (exitCode, signal) => done(exitCode ?? (signal ? 1 : 0)));
  child.once('error', (error) => {
    process.stderr.write(`[test-services] could not run ${command[0]}: ${error.message}\n`);
    done(1);
  });
});
await postgres.stop();
await nats.stop();
process.exit(code);
