// Test support: the billing service as a real child process (apps/billing/src/main.ts run from source through
// @swc-node/register), so a test can SIGKILL it mid-stream and start it again on the same port and data.
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { eventually, StopWaiting } from '@sovren/testing';

import { WORKSPACE_ROOT } from './billing-test-environment';

export class BillingProcess {
  readonly lines: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly env: Record<string, string>) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the process and resolves once /health/ready answers 200. */
  async start(timeoutMs = 90_000): Promise<void> {
    if (this.child) throw new Error('billing process is already running');
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(WORKSPACE_ROOT, 'apps/billing/src/main.ts')],
      {
        cwd: WORKSPACE_ROOT,
        env: { ...process.env, ...this.env, SWC_NODE_PROJECT: join(WORKSPACE_ROOT, 'apps/billing/tsconfig.app.json') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => this.lines.push(...chunk.split('\n').filter((line) => line !== '')));
    }
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.child = undefined;
        resolve();
      }),
    );
    const url = `http://127.0.0.1:${this.env['SOVREN_BILLING_PORT']}/health/ready`;
    await eventually(
      'billing to be ready',
      async () => {
        if (!this.child) throw new StopWaiting(`billing exited during start-up:\n${this.tail()}`);
        return (await fetch(url)).status === 200;
      },
      { timeoutMs, intervalMs: 200, detail: () => this.tail() },
    );
  }

  /** SIGKILL: no shutdown hook runs, in-flight work is lost mid-way (what a crash or OOM kill does). */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }
}
