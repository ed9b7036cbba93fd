// Child-process plumbing for the dev launcher: run a command to completion, stop a process politely then
// forcefully, find an executable, read the tail of a log file, and probe/allocate local TCP ports.

import { spawn } from 'node:child_process';
import { accessSync, constants, closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { delimiter, join } from 'node:path';

/** A failure the launcher reports as one clear message (no stack trace). */
export class LauncherError extends Error {
  constructor(message) {
    super(message);
    this.name = 'LauncherError';
  }
}

/** Runs a command with inherited stdio; resolves its exit code (never rejects on a non-zero exit). */
export function runCommand(command, args, { cwd, env, quiet = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: quiet ? 'pipe' : 'inherit' });
    let output = '';
    if (quiet) {
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
    }
    child.on('error', (error) => reject(new LauncherError(`could not run ${command}: ${error.message}`)));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), output }));
  });
}

/** True while the child has neither exited nor been killed. */
export function isRunning(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves when the child has exited (immediately if it already has). */
export function waitForExit(child) {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolvePromise) => child.once('exit', () => resolvePromise()));
}

/**
 * Sends `signal`, waits up to timeoutMs, then SIGKILLs. Resolves 'exited' | 'killed' | 'not-running'.
 * Detached children are signalled as a process group so their own children go too.
 */
export async function stopProcess(child, { signal = 'SIGTERM', timeoutMs = 10_000, group = false } = {}) {
  if (!isRunning(child)) return 'not-running';
  const send = (sig) => {
    try {
      if (group && child.pid) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch (error) {
      // ESRCH: it exited between the check and the signal, which is what we wanted.
      if (error.code !== 'ESRCH') throw error;
    }
  };
  send(signal);
  let timer;
  const timedOut = new Promise((resolvePromise) => {
    timer = setTimeout(() => resolvePromise('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([waitForExit(child).then(() => 'exited'), timedOut]);
  clearTimeout(timer);
  if (outcome === 'exited') return 'exited';
  send('SIGKILL');
  await waitForExit(child);
  return 'killed';
}

/** Finds an executable on PATH plus the sbin folders a non-root PATH often lacks. */
export function findExecutable(name) {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const folder of folders.filter(Boolean)) {
    const candidate = join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder: keep looking (absence is the normal case, not an error).
      continue;
    }
  }
  return undefined;
}

/** The last `lines` lines of a file, or a note saying why there are none. */
export function tailFile(path, lines = 20) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8').trimEnd();
    return text === '' ? '(log is empty)' : text.split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(cannot read ${path}: ${error.message})`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** True when something accepts TCP connections on host:port within timeoutMs. */
export function canConnect(host, port, timeoutMs = 1_000) {
  return new Promise((resolvePromise) => {
    const socket = new Socket();
    const finish = (result) => {
      socket.destroy();
      resolvePromise(result);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.connect(port, host, () => finish(true));
  });
}

/** True when port can be bound on host right now. */
export function isPortFree(port, host = '127.0.0.1') {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolvePromise(true)));
  });
}

/** A port the OS reports free on host (bound once to port 0, then released). */
export function findFreePort(host = '127.0.0.1') {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', (error) =>
      reject(new LauncherError(`cannot allocate a free port on ${host}: ${error.message}`)),
    );
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => resolvePromise(address.port));
    });
  });
}

/** Polls `check` every intervalMs until it resolves truthy or timeoutMs passes; returns the last result. */
export async function pollUntil(check, { timeoutMs, intervalMs = 250 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result || Date.now() >= deadline) return result;
    await new Promise((resolvePromise) => setTimeout(resolvePromise, intervalMs));
  }
}
