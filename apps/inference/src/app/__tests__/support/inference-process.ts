// Test support: the inference service as its own process (main.ts through ts-node, as `nx serve` would run the
// built bundle), so a test can SIGKILL it mid-work and start it again. Output is kept line by line for failures.
import { resolve } from 'node:path';
import { eventually, OwnedProcess, StopWaiting } from '@sovren/testing';

const WORKSPACE = resolve(__dirname, '../../../../../..');

export class InferenceProcess {
  private constructor(
    readonly url: string,
    private readonly process: OwnedProcess,
  ) {}

  /** Starts the service on `port` and resolves once /health/ready answers 200. */
  static async start(env: Record<string, string>, port: number): Promise<InferenceProcess> {
    const owned = new OwnedProcess(
      'inference process',
      process.execPath,
      ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', 'apps/inference/src/main.ts'],
      {
        ...process.env,
        ...env,
        SOVREN_INFERENCE_PORT: String(port),
        SOVREN_HOST: '127.0.0.1',
        TS_NODE_PROJECT: 'apps/inference/tsconfig.app.json',
        TS_NODE_TRANSPILE_ONLY: 'true',
      },
      { cwd: WORKSPACE },
    );
    const started = new InferenceProcess(`http://127.0.0.1:${port}`, owned);
    try {
      await eventually(
        'the inference process to be ready',
        async () => {
          if (owned.exit) throw new StopWaiting(`exited ${JSON.stringify(owned.exit)}\n${owned.tail()}`);
          return (await fetch(`${started.url}/health/ready`, { signal: AbortSignal.timeout(5_000) })).status === 200;
        },
        { timeoutMs: 120_000, intervalMs: 250, detail: () => owned.tail() },
      );
    } catch (error) {
      await owned.kill('SIGKILL');
      throw error;
    }
    return started;
  }

  tail(n = 30): string {
    return this.process.tail(n);
  }

  /** Sends `signal` and waits for the process to end. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    await this.process.kill(signal);
  }
}
