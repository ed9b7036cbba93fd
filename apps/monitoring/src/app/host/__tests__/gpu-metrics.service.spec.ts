// GpuMetricsService with a real child process: no nvidia-smi (no metrics, one info line), an executable that
// prints nvidia-smi's CSV (metrics per GPU), and one that fails (one warning, metrics dropped).
import { LoggerService, Logger } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MonitoringEnv } from '../../monitoring.env';
import { findOnPath, GpuMetricsService } from '../gpu-metrics.service';

class CollectingLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: unknown }> = [];
  log(message: unknown) { this.lines.push({ level: 'log', message }); }
  warn(message: unknown) { this.lines.push({ level: 'warn', message }); }
  error(message: unknown) { this.lines.push({ level: 'error', message }); }
  debug() { /* not asserted */ }
  verbose() { /* not asserted */ }
}

describe('GpuMetricsService', () => {
  let dir: string;
  let logger: CollectingLogger;
  const savedPath = process.env['PATH'];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sovren-gpu-'));
    logger = new CollectingLogger();
    Logger.overrideLogger(logger);
  });
  afterEach(() => {
    process.env['PATH'] = savedPath;
    Logger.overrideLogger(false);
    rmSync(dir, { recursive: true, force: true });
  });

  const script = (name: string, body: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const env = (path?: string): MonitoringEnv => Object.assign(new MonitoringEnv(), path ? { SOVREN_NVIDIA_SMI_PATH: path } : {});

  it('without nvidia-smi exports no GPU metric and says so in one info line', async () => {
    process.env['PATH'] = dir; // nothing executable named nvidia-smi here
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(metrics, env());
    await gpus.onApplicationBootstrap();
    await gpus.sample();
    gpus.onApplicationShutdown();
    expect((await metrics.metrics()).split('\n').filter((l) => l.startsWith('sovren_gpu_'))).toEqual([]);
    expect(logger.lines).toEqual([{ level: 'log', message: { msg: 'nvidia-smi not found: no NVIDIA GPU on this host, GPU metrics are not exported' } }]);
  });

  it('finds nvidia-smi on PATH', async () => {
    const path = script('nvidia-smi', 'exit 0');
    await expect(findOnPath('nvidia-smi', `/no/such/dir:${dir}`)).resolves.toBe(path);
    await expect(findOnPath('nvidia-smi', '/no/such/dir')).resolves.toBeUndefined();
  });

  it('exports per-GPU metrics from nvidia-smi output, in base units', async () => {
    const path = script('nvidia-smi', `cat <<'EOF'\n0, GPU-aaaa, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 2\nEOF`);
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(metrics, env(path));
    await gpus.onApplicationBootstrap();
    gpus.onApplicationShutdown();
    const text = await metrics.metrics();
    expect(text).toContain('sovren_gpu_memory_used_bytes{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",service="monitoring"} 10737418240');
    expect(text).toContain('sovren_gpu_temperature_celsius{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",service="monitoring"} 45');
    expect(text).toContain('sovren_gpu_ecc_uncorrected_errors_total{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",service="monitoring"} 2');
    expect(gpus.latest()).toHaveLength(1);
  });

  it('warns once while nvidia-smi keeps failing and drops the stale readings', async () => {
    const path = script('nvidia-smi', `cat <<'EOF'\n0, GPU-aaaa, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 0\nEOF`);
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(metrics, env(path));
    await gpus.onApplicationBootstrap();
    expect(await metrics.metrics()).toContain('sovren_gpu_temperature_celsius{');
    script('nvidia-smi', 'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9');
    await gpus.sample();
    await gpus.sample();
    expect(await metrics.metrics()).not.toContain('sovren_gpu_temperature_celsius{');
    gpus.onApplicationShutdown();
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0].message)).toContain('could not communicate with the NVIDIA driver');
    expect(gpus.latest()).toEqual([]);
  });
});
