// A child process the tests own: output captured line by line, stopped with SIGTERM (SIGKILL as a last resort) or
// killed outright (a crash test).
import { ChildProcess, spawn } from 'node:child_process';

export class OwnedProcess {
  readonly lines: string[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private readonly child: ChildProcess;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    options: { cwd?: string } = {},
  ) {
    this.child = spawn(command, args, { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        this.lines.push(...parts);
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
      this.child.once('error', (error) => {
        this.lines.push(`spawn error: ${error.message}`);
        this.exitInfo = { code: -1, signal: null };
        resolve();
      });
    });
  }

  /** The process id (undefined when it could not be spawned). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    return this.exitInfo;
  }

  tail(n = 30): string {
    return `--- ${this.label} (last ${n} lines) ---\n${this.lines.slice(-n).join('\n')}`;
  }

  /** Sends SIGTERM and waits; SIGKILL after `timeoutMs`. Resolves with how the process ended. */
  async stop(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
    if (!this.running) return { ...this.exitInfo!, forced: false };
    this.child.kill('SIGTERM');
    let forced = false;
    const timer = setTimeout(() => {
      forced = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return { ...this.exitInfo!, forced };
  }

  /** Sends `signal` (SIGKILL: a crash) and waits for the process to end. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  async waitForExit(): Promise<void> {
    await this.exited;
  }
}
