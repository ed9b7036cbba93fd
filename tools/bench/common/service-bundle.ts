// A built service bundle (dist/apps/<service>/main.js) started as a child process for a benchmark, as systemd runs
// it: production mode, the benchmark's environment on top of this one's, its output on the benchmark's.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const REPO_ROOT = resolve(__dirname, '../../..');

export interface BundleProcess {
  /** true once the process has exited (a start-up wait should stop waiting). */
  readonly exited: boolean;
  /** SIGTERM unless it has exited already; resolves when it has. */
  stop(): Promise<void>;
}

/** Starts dist/apps/<service>/main.js; throws naming the build command when it is not built. */
export function startServiceBundle(service: string, env: Record<string, string>): BundleProcess {
  const bundle = resolve(REPO_ROOT, 'dist', 'apps', service, 'main.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npx nx build ${service}\` first`);
  const child = spawn(process.execPath, [bundle], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = false;
  const exit = new Promise<void>((resolveExit) =>
    child.once('exit', () => {
      exited = true;
      resolveExit();
    }),
  );
  return {
    get exited() {
      return exited;
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await exit;
    },
  };
}
