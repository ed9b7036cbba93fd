// A real Prometheus (Debian's `prometheus` binary) running SOVREN's deploy/prometheus configuration from a copy
// in a temporary directory, with targets written by deploy/prometheus/write-targets.sh, on a free port.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { eventually, freePort, OwnedProcess, StopWaiting } from '@sovren/testing';

const workspaceRoot = resolve(__dirname, '../../../..');

export interface PrometheusTarget {
  health: string;
  scrapeUrl: string;
  lastError: string;
  labels: Record<string, string>;
}

export class PrometheusTestServer {
  private constructor(
    private readonly dir: string,
    private readonly process: OwnedProcess,
    readonly port: number,
  ) {}

  /** `targetsEnv`: SOVREN_*_PORT / SOVREN_INFERENCE_WORKERS for write-targets.sh. */
  static async start(targetsEnv: NodeJS.ProcessEnv): Promise<PrometheusTestServer> {
    const dir = mkdtempSync(join(tmpdir(), 'sovren-prometheus-'));
    cpSync(join(workspaceRoot, 'deploy/prometheus'), join(dir, 'config'), { recursive: true });
    execFileSync('bash', [join(dir, 'config/write-targets.sh'), join(dir, 'config/targets')], {
      env: { PATH: process.env['PATH'], ...targetsEnv },
      stdio: 'pipe',
    });
    const port = await freePort();
    const binary = process.env['SOVREN_PROMETHEUS_BIN'] ?? 'prometheus';
    const child = new OwnedProcess(
      'prometheus',
      binary,
      [
        `--config.file=${join(dir, 'config/prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      process.env,
    );
    const server = new PrometheusTestServer(dir, child, port);
    await eventually(
      'prometheus to be ready',
      async () => {
        if (!child.running) throw new StopWaiting(`prometheus exited: ${JSON.stringify(child.exit)}\n${child.tail()}`);
        return (await fetch(`${server.url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 250, detail: () => child.tail() },
    );
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async activeTargets(): Promise<PrometheusTarget[]> {
    const res = await fetch(`${this.url}/api/v1/targets?state=active`);
    const body = (await res.json()) as { status: string; data: { activeTargets: PrometheusTarget[] } };
    if (body.status !== 'success') throw new Error(`prometheus /api/v1/targets answered ${JSON.stringify(body)}`);
    return body.data.activeTargets;
  }

  async stop(): Promise<void> {
    await this.process.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
