// Where the platform is: its data root, the NATS URL and the CLI's NATS credentials. The operator's access right
// is the credentials file <root>/nats-credentials/cli.env (mode 0600, owned by root or the sovren user): an
// account that cannot read it cannot use the CLI. The dev launcher writes <root>/platform.lock (pid, NATS URL,
// ports) while a platform runs on that root.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { CliError, EXIT } from './cli-error';

/** The production data root (deploy/install.sh). */
export const INSTALLED_ROOT = '/data/sovren';
export const LOCK_FILE = 'platform.lock';
export const CREDENTIALS_FILE = join('nats-credentials', 'cli.env');

/** What the dev launcher writes to <root>/platform.lock. */
export interface PlatformLock {
  pid: number;
  startedAt?: string;
  nats?: { url: string; users: boolean };
  services?: Record<string, number>;
}

export interface GlobalOptions {
  root?: string;
  nats?: string;
  credentials?: string;
  timeout?: string;
  json?: boolean;
}

export interface PlatformLocation {
  root: string;
  natsUrl: string;
  /** Undefined: connect without a user (a development NATS without users). */
  credentials?: { user: string; pass: string };
  lock?: PlatformLock;
}

/** The data root: --root, $SOVREN_ROOT, the checkout's .sovren (running from a repo's dist/), /data/sovren. */
export function dataRoot(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env, bundleDir = __dirname): string {
  if (options.root) return resolve(options.root);
  if (env['SOVREN_ROOT']) return resolve(env['SOVREN_ROOT']);
  // dist/tools/cli/main.js inside a checkout: the dev launcher's default root is <checkout>/.sovren.
  const checkout = resolve(bundleDir, '..', '..', '..');
  if (existsSync(join(checkout, 'package.json')) && existsSync(join(checkout, '.sovren'))) {
    return join(checkout, '.sovren');
  }
  return INSTALLED_ROOT;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(root: string): PlatformLock | undefined {
  const path = join(root, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES') throw noAccess(path);
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    const lock = JSON.parse(text) as PlatformLock;
    if (typeof lock.pid !== 'number') throw new Error('no pid');
    return lock;
  } catch (error) {
    throw new CliError(`${path} is not a platform lock file (${(error as Error).message}); is it stale? remove it`);
  }
}

function noAccess(path: string): CliError {
  return new CliError(
    `no local access: this account cannot read ${path}. Run the command as root or as the sovren user ` +
      `(e.g. sudo -u sovren sovren ...), who alone hold the CLI's NATS credentials`,
    EXIT.NO_ACCESS,
    'NO_ACCESS',
  );
}

/** SOVREN_NATS_USER / SOVREN_NATS_PASSWORD from the credentials file (tools/nats writes it). */
export function readCredentials(path: string): { user: string; pass: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EACCES' || code === 'EPERM') throw noAccess(path);
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  const value = (name: string) => new RegExp(`^${name}=(.+)$`, 'm').exec(text)?.[1]?.trim();
  const user = value('SOVREN_NATS_USER');
  const pass = value('SOVREN_NATS_PASSWORD');
  if (!user || !pass) throw new CliError(`${path} holds no SOVREN_NATS_USER / SOVREN_NATS_PASSWORD lines`);
  return { user, pass };
}

/** Finds the platform for a command; throws a CliError saying what is missing. */
export function locatePlatform(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): PlatformLocation {
  const root = dataRoot(options, env);
  if (!existsSync(root)) {
    throw new CliError(
      `the platform is not running here: no data root ${root} (start it with npm start, or name the root with ` +
        '--root or SOVREN_ROOT)',
      EXIT.NOT_RUNNING,
      'NOT_RUNNING',
    );
  }
  const lock = readLock(root);
  if (lock && !processAlive(lock.pid)) {
    throw new CliError(
      `the platform is not running: ${join(root, LOCK_FILE)} names pid ${lock.pid}, which has exited ` +
        '(start it with npm start, or systemctl start sovren.target)',
      EXIT.NOT_RUNNING,
      'NOT_RUNNING',
    );
  }
  const natsUrl = options.nats ?? env['SOVREN_NATS_URL'] ?? lock?.nats?.url ?? 'nats://127.0.0.1:4222';
  const credentialsPath = options.credentials ? resolve(options.credentials) : join(root, CREDENTIALS_FILE);
  // Reading it is the access check: an account without the right gets EACCES here, before any connection.
  const credentials = readCredentials(credentialsPath);
  if (!credentials && (lock?.nats?.users ?? true)) {
    throw new CliError(
      `no CLI credentials at ${credentialsPath}` +
        (existsSync(dirname(credentialsPath)) ? '' : ' (no such directory)') +
        `: is ${root} the platform's data root? (--root, SOVREN_ROOT)`,
      EXIT.NO_ACCESS,
      'NO_CREDENTIALS',
    );
  }
  return { root, natsUrl, credentials, lock };
}
