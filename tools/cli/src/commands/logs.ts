// sovren logs <service>: the last lines of <root>/logs/<service>.log, then follows it (like tail -F: a file
// truncated by logrotate's copytruncate is read again from its start).
import type { Command } from 'commander';
import { closeSync, openSync, readdirSync, readSync, statSync, unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';

import { CliError, EXIT } from '../cli-error';
import { globalsOf } from '../command-context';
import { dataRoot } from '../platform-locator';

const SERVICE_NAME = /^[a-z][a-z0-9-]*$/;
const TAIL_BYTES_PER_LINE = 512;

function readRange(path: string, start: number, end: number): string {
  if (end <= start) return '';
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    const read = readSync(fd, buffer, 0, buffer.length, start);
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function openLog(path: string, logDir: string, service: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new CliError(`no local access: cannot read ${path}`, EXIT.NO_ACCESS, 'NO_ACCESS');
    let known: string[] = [];
    try {
      known = readdirSync(logDir)
        .filter((name) => name.endsWith('.log'))
        .map((name) => name.slice(0, -4));
    } catch {
      throw new CliError(`no log directory ${logDir}: is the data root right? (--root, SOVREN_ROOT)`);
    }
    throw new CliError(`no log for '${service}' in ${logDir} (there are: ${known.join(', ') || 'none'})`);
  }
}

export function registerLogs(program: Command): void {
  program
    .command('logs <service>')
    .description("print a service's last log lines and follow the file (auth, billing, voice, inference, ...)")
    .option('-n, --lines <n>', 'how many lines to show first', '50')
    .option('--no-follow', 'print and exit instead of following')
    .action(async (service: string, options: { lines: string; follow: boolean }, command: Command) => {
      if (!SERVICE_NAME.test(service)) throw new CliError(`not a service name: "${service}"`, EXIT.USAGE);
      const lines = Number(options.lines);
      if (!Number.isInteger(lines) || lines < 0) throw new CliError('--lines must be a number >= 0', EXIT.USAGE);
      const logDir = join(dataRoot(globalsOf(command)), 'logs');
      const path = join(logDir, `${service}.log`);
      let offset = openLog(path, logDir, service);
      const head = readRange(path, Math.max(0, offset - lines * TAIL_BYTES_PER_LINE), offset).split('\n');
      if (head[head.length - 1] === '') head.pop();
      const shown = lines === 0 ? [] : head.slice(-lines);
      if (shown.length > 0) process.stdout.write(`${shown.join('\n')}\n`);
      if (!options.follow) return;
      await new Promise<void>((resolve) => {
        const stop = () => {
          unwatchFile(path);
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        watchFile(path, { interval: 250 }, (current) => {
          if (current.size < offset) offset = 0; // truncated (copytruncate): read it again from its start
          if (current.size > offset) {
            process.stdout.write(readRange(path, offset, current.size));
            offset = current.size;
          }
        });
      });
    });
}
