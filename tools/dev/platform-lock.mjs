// One platform per data root: the dev launcher holds <root>/platform.lock (its pid, then the NATS URL and the
// services' ports) while it runs. A second launcher on the same root refuses with who holds it; a lock whose pid
// is gone (or is no launcher any more: the pid was reused) is stale and taken over. The `sovren` CLI reads the
// same file to find the running platform's NATS.

import { closeSync, existsSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { LauncherError } from './process-control.mjs';

export const LOCK_FILE = 'platform.lock';

/** Whether `pid` is a live dev launcher (EPERM: alive, someone else's; /proc tells a reused pid apart). */
export function isLauncherAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== 'EPERM') return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, 'utf8').includes('start.mjs');
  } catch (error) {
    // Unreadable /proc entry: assume it is what the lock says rather than take over a running platform.
    return error.code === 'EACCES' || error.code === 'EPERM';
  }
}

function readLock(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    // Half-written or foreign content: treated as stale (its writer died mid-write or it is not ours).
    return { pid: -1, unreadable: error.message };
  }
}

/** "auth 3101, billing 3102, ..." from a lock's services. */
export function describePorts(lock) {
  const services = Object.entries(lock?.services ?? {});
  const ports = services.map(([name, port]) => `${name} ${port}`);
  if (lock?.nats?.url) ports.push(`NATS ${lock.nats.url}`);
  return ports.length > 0 ? ports.join(', ') : 'ports not assigned yet';
}

/**
 * Takes <root>/platform.lock for this process. Throws a LauncherError naming the holder when a live launcher has
 * it; reports a stale one it takes over through `log`. Returns {path, update(fields), release()}.
 */
export function acquirePlatformLock(root, log, now = new Date()) {
  const path = join(root, LOCK_FILE);
  const content = { pid: process.pid, startedAt: now.toISOString(), root };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    let fd;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (error) {
      if (error.code !== 'EEXIST') throw new LauncherError(`cannot create ${path}: ${error.message}`);
      const holder = readLock(path);
      if (holder && holder.pid !== process.pid && isLauncherAlive(holder.pid)) {
        throw new LauncherError(
          `already running on ${root} (pid ${holder.pid}, ${describePorts(holder)}); ` +
            'stop it first (Ctrl-C in its terminal), or use another SOVREN_ROOT',
        );
      }
      log(
        holder?.unreadable
          ? `${path} is unreadable (${holder.unreadable}); taking it over`
          : `taking over the stale lock of pid ${holder?.pid ?? '?'} (no longer running) in ${path}`,
      );
      try {
        unlinkSync(path);
      } catch (unlinkError) {
        if (unlinkError.code !== 'ENOENT')
          throw new LauncherError(`cannot remove stale ${path}: ${unlinkError.message}`);
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(content, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
    let held = true;
    return {
      path,
      /** Adds fields (nats, services, host) to the lock, replacing the file atomically. */
      update(fields) {
        if (!held) return;
        Object.assign(content, fields);
        const tmp = `${path}.${process.pid}.tmp`;
        const tmpFd = openSync(tmp, 'w', 0o644);
        try {
          writeSync(tmpFd, `${JSON.stringify(content, null, 2)}\n`);
        } finally {
          closeSync(tmpFd);
        }
        renameSync(tmp, path);
      },
      /** Removes the lock if it is still this process's (synchronous: also safe in an 'exit' handler). */
      release() {
        if (!held) return;
        held = false;
        if (readLock(path)?.pid !== process.pid) return;
        try {
          unlinkSync(path);
        } catch (error) {
          if (error.code !== 'ENOENT') process.stderr.write(`[sovren] could not remove ${path}: ${error.message}\n`);
        }
      },
    };
  }
  throw new LauncherError(`could not take ${path}: another launcher keeps replacing it`);
}
