// Test support: the inference service as its own process (main.ts through ts-node, as `nx serve` would run the
// built bundle), so a test can SIGKILL it mid-work and start it again. Output is kept line by line for failures.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { eventually, StopWaiting } from '@sovren/testing';

const WORKSPACE = resolve(__dirname, '../../../../../..');

export class InferenceProcess {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly url: string,
    env: Record<string, string>,
  ) {
    this.child = spawn(
      process.execPath,
      ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', 'apps/inference/src/main.ts'],
      {
        cwd: WORKSPACE,
        env: {
          ...process.env,
          ...env,
          TS_NODE_PROJECT: 'apps/inference/tsconfig.app.json',
          TS_NODE_TRANSPILE_ONLY: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        this.lines.push(...parts);
      });
    }
    this.exited = new Promise((done) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        done();
      });
    });
  }

  /** Starts the service on `port` and resolves once /health/ready answers 200. */
  static async start(env: Record<string, string>, port: number): Promise<InferenceProcess> {
    const started = new InferenceProcess(`http://127.0.0.1:${port}`, {
      ...env,
      SOVREN_INFERENCE_PORT: String(port),
      SOVREN_HOST: '127.0.0.1',
    });
    try {
      await eventually(
        'the inference process to be ready',
        async () => {
          if (started.exitInfo) throw new StopWaiting(`exited ${JSON.stringify(started.exitInfo)}\n${started.tail()}`);
          return (await fetch(`${started.url}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status === 200;
        },
        { timeoutMs: 120_000, intervalMs: 250, detail: () => started.tail() },
      );
    } catch (error) {
      await started.kill('SIGKILL');
      throw error;
    }
    return started;
  }

  tail(n = 30): string {
    return `--- inference process (last ${n} lines) ---\n${this.lines.slice(-n).join('\n')}`;
  }

  /** Sends `signal` and waits for the process to end. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.exitInfo) this.child.kill(signal);
    await this.exited;
  }
}
