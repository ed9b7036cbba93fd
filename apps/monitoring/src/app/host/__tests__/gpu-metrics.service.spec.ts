// GpuMetricsService: NVML first (the engine addon's answer, here a recorded one for two GPUs), nvidia-smi as a
// real child process second (an executable printing nvidia-smi's CSV, or failing: one warning, metrics dropped),
// and with neither — including when the engine addon cannot be loaded at all — one info line and no GPU series.
import { Logger } from '@nestjs/common';
import { NvmlGpuMetrics, readNvmlGpuMetrics } from '@sovren/engine';
import { MetricsService } from '@sovren/observability';
import { CollectingLogger } from '@sovren/testing';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MonitoringEnv } from '../../monitoring-config/monitoring.env';
import { MonitoringMetrics } from '../../monitoring.metrics';
import { findOnPath, GpuMetricsService, NvmlReader } from '../gpu-metrics.service';

/** readNvmlGpuMetrics as on a host where the engine addon is not built: NVML unusable, with the reason. */
const addonMissing: NvmlReader = () =>
  readNvmlGpuMetrics(() => {
    throw new Error('native engine not built: run `npx nx run native:build`');
  });

/** readNvmlGpuMetrics over an addon whose gpuMetrics() answers `answers` in turn (the last one repeats). */
function addonAnswering(...answers: NvmlGpuMetrics[]): NvmlReader {
  let call = 0;
  const addon = { gpuMetrics: async () => answers[Math.min(call++, answers.length - 1)] };
  return () => readNvmlGpuMetrics(() => addon);
}

const TWO_GPUS: NvmlGpuMetrics = {
  available: true,
  gpus: [
    {
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-aaaa',
      utilizationPercent: 37,
      memoryUsedBytes: 10737418240,
      memoryTotalBytes: 85520809984,
      temperatureCelsius: 45,
      powerWatts: 119.85,
      eccCorrectedErrors: 7,
      eccUncorrectedErrors: 2,
    },
    {
      index: 1,
      name: 'NVIDIA L4',
      uuid: 'GPU-bbbb',
      utilizationPercent: 0,
      memoryUsedBytes: 4194304,
      memoryTotalBytes: 24152899584,
      temperatureCelsius: 33,
    },
  ],
};

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
  const env = (path?: string): MonitoringEnv =>
    Object.assign(new MonitoringEnv(), path ? { SOVREN_NVIDIA_SMI_PATH: path } : {});

  it('without NVML (engine addon missing) and without nvidia-smi exports no GPU metric and says so in one info line', async () => {
    process.env['PATH'] = dir; // nothing executable named nvidia-smi here
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(new MonitoringMetrics(metrics), env(), addonMissing);
    await gpus.onApplicationBootstrap();
    await gpus.sample();
    gpus.onApplicationShutdown();
    expect((await metrics.metrics()).split('\n').filter((l) => l.startsWith('sovren_gpu_'))).toEqual([]);
    expect(logger.lines).toEqual([
      {
        level: 'log',
        message: {
          msg: 'no NVIDIA GPU metrics source on this host (NVML and nvidia-smi absent): GPU metrics are not exported',
          nvml: 'NVML not available: native engine not built: run `npx nx run native:build`',
        },
      },
    ]);
  });

  it('exports per-GPU metrics from NVML, in base units, leaving out what a GPU cannot report', async () => {
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(
      new MonitoringMetrics(metrics),
      env('/no/such/nvidia-smi'),
      addonAnswering(TWO_GPUS),
    );
    await gpus.onApplicationBootstrap();
    gpus.onApplicationShutdown();
    const text = await metrics.metrics();
    const h100 =
      'gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",worker="sovren-inference@0",service="monitoring"';
    const l4 = 'gpu="1",uuid="GPU-bbbb",name="NVIDIA L4",worker="sovren-inference@1",service="monitoring"';
    expect(text).toContain(`sovren_gpu_utilization_ratio{${h100}} 0.37`);
    expect(text).toContain(`sovren_gpu_memory_used_bytes{${h100}} 10737418240`);
    expect(text).toContain(`sovren_gpu_memory_total_bytes{${l4}} 24152899584`);
    expect(text).toContain(`sovren_gpu_temperature_celsius{${l4}} 33`);
    expect(text).toContain(`sovren_gpu_power_watts{${h100}} 119.85`);
    expect(text).not.toContain(`sovren_gpu_power_watts{${l4}}`);
    expect(text).toContain(`sovren_gpu_ecc_corrected_errors_total{${h100}} 7`);
    expect(text).toContain(`sovren_gpu_ecc_uncorrected_errors_total{${h100}} 2`);
    expect(text).not.toContain(`sovren_gpu_ecc_uncorrected_errors_total{${l4}}`);
    expect(gpus.latest().map((g) => g.uuid)).toEqual(['GPU-aaaa', 'GPU-bbbb']);
    expect(logger.lines).toEqual([{ level: 'log', message: { msg: 'GPU metrics read through NVML', gpus: 2 } }]);
  });

  it('falls back to nvidia-smi when NVML is not available, saying why in one info line', async () => {
    const path = script(
      'nvidia-smi',
      `cat <<'EOF'\n0, GPU-aaaa, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 2\nEOF`,
    );
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(
      new MonitoringMetrics(metrics),
      env(path),
      addonAnswering({ available: false, reason: 'NVML not available: cannot load libnvidia-ml.so.1' }),
    );
    await gpus.onApplicationBootstrap();
    gpus.onApplicationShutdown();
    expect(await metrics.metrics()).toContain(
      'sovren_gpu_temperature_celsius{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",worker="sovren-inference@0",service="monitoring"} 45',
    );
    expect(logger.lines).toEqual([
      {
        level: 'log',
        message: {
          msg: 'GPU metrics read through nvidia-smi',
          binary: path,
          nvml: 'NVML not available: cannot load libnvidia-ml.so.1',
        },
      },
    ]);
  });

  it('warns once while NVML keeps failing after start-up, drops the stale readings, and recovers', async () => {
    const metrics = new MetricsService('monitoring');
    const lost: NvmlGpuMetrics = {
      available: false,
      reason: 'NVML not available: nvmlDeviceGetCount_v2 failed: GPU is lost (15)',
    };
    const gpus = new GpuMetricsService(
      new MonitoringMetrics(metrics),
      env(),
      addonAnswering(TWO_GPUS, TWO_GPUS, lost, lost, TWO_GPUS),
    );
    await gpus.onApplicationBootstrap();
    expect(await metrics.metrics()).toContain('sovren_gpu_temperature_celsius{');
    await gpus.sample();
    await gpus.sample();
    expect(await metrics.metrics()).not.toContain('sovren_gpu_temperature_celsius{');
    expect(gpus.latest()).toEqual([]);
    await gpus.sample();
    gpus.onApplicationShutdown();
    expect(await metrics.metrics()).toContain('sovren_gpu_temperature_celsius{');
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0].message)).toContain('GPU is lost');
  });

  it('finds nvidia-smi on PATH', async () => {
    const path = script('nvidia-smi', 'exit 0');
    await expect(findOnPath('nvidia-smi', `/no/such/dir:${dir}`)).resolves.toBe(path);
    await expect(findOnPath('nvidia-smi', '/no/such/dir')).resolves.toBeUndefined();
  });

  it('exports per-GPU metrics from nvidia-smi output, in base units', async () => {
    const path = script(
      'nvidia-smi',
      `cat <<'EOF'\n0, GPU-aaaa, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 2\nEOF`,
    );
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(new MonitoringMetrics(metrics), env(path), addonMissing);
    await gpus.onApplicationBootstrap();
    gpus.onApplicationShutdown();
    const text = await metrics.metrics();
    expect(text).toContain(
      'sovren_gpu_memory_used_bytes{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",worker="sovren-inference@0",service="monitoring"} 10737418240',
    );
    expect(text).toContain(
      'sovren_gpu_temperature_celsius{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",worker="sovren-inference@0",service="monitoring"} 45',
    );
    expect(text).toContain(
      'sovren_gpu_ecc_uncorrected_errors_total{gpu="0",uuid="GPU-aaaa",name="NVIDIA H100 80GB HBM3",worker="sovren-inference@0",service="monitoring"} 2',
    );
    expect(gpus.latest()).toHaveLength(1);
  });

  it('warns once while nvidia-smi keeps failing and drops the stale readings', async () => {
    const path = script(
      'nvidia-smi',
      `cat <<'EOF'\n0, GPU-aaaa, NVIDIA H100 80GB HBM3, 37, 10240, 81559, 45, 119.85, 0\nEOF`,
    );
    const metrics = new MetricsService('monitoring');
    const gpus = new GpuMetricsService(new MonitoringMetrics(metrics), env(path), addonMissing);
    await gpus.onApplicationBootstrap();
    expect(await metrics.metrics()).toContain('sovren_gpu_temperature_celsius{');
    script(
      'nvidia-smi',
      'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9',
    );
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
