// GPU metrics per GPU on monitoring's /metrics, read with `nvidia-smi --query-gpu` every few seconds. On a host
// without nvidia-smi (no NVIDIA GPU) the metrics are simply absent and one info line says so at start-up.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { Counter, Gauge } from 'prom-client';

import { MONITORING_ENV, MonitoringEnv } from '../monitoring.env';
import { GpuSample, nvidiaSmiArgs, parseNvidiaSmiCsv } from './nvidia-smi.parser';

export const GPU_SAMPLE_INTERVAL_MS = 5_000;
const NVIDIA_SMI_TIMEOUT_MS = 10_000;

type GpuLabels = 'gpu' | 'uuid' | 'name';

/** The first executable `nvidia-smi` on PATH, or undefined. */
export async function findOnPath(command: string, pathVariable = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const dir of pathVariable.split(delimiter).filter((d) => d !== '')) {
    const candidate = join(dir, command);
    const executable = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (executable) return candidate;
  }
  return undefined;
}

export function runNvidiaSmi(binary: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, nvidiaSmiArgs(), { timeout: NVIDIA_SMI_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${binary} failed: ${error.message}${stderr ? ` (${String(stderr).trim()})` : ''}`));
      else resolve(String(stdout));
    });
  });
}

@Injectable()
export class GpuMetricsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(GpuMetricsService.name);
  private readonly utilization: Gauge<GpuLabels>;
  private readonly memoryUsed: Gauge<GpuLabels>;
  private readonly memoryTotal: Gauge<GpuLabels>;
  private readonly temperature: Gauge<GpuLabels>;
  private readonly power: Gauge<GpuLabels>;
  private readonly eccErrors: Counter<GpuLabels>;
  private readonly eccSeen = new Map<string, number>();
  private binary: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private last: GpuSample[] = [];

  constructor(
    metrics: MetricsService,
    @Inject(MONITORING_ENV) private readonly env: MonitoringEnv,
  ) {
    const labelNames = ['gpu', 'uuid', 'name'] as const;
    this.utilization = metrics.gauge({ name: 'sovren_gpu_utilization_ratio', help: 'GPU busy share over the last sample period, 0-1.', labelNames });
    this.memoryUsed = metrics.gauge({ name: 'sovren_gpu_memory_used_bytes', help: 'GPU memory in use, bytes.', labelNames });
    this.memoryTotal = metrics.gauge({ name: 'sovren_gpu_memory_total_bytes', help: 'GPU memory installed, bytes.', labelNames });
    this.temperature = metrics.gauge({ name: 'sovren_gpu_temperature_celsius', help: 'GPU core temperature, degrees Celsius.', labelNames });
    this.power = metrics.gauge({ name: 'sovren_gpu_power_watts', help: 'GPU power draw, watts.', labelNames });
    this.eccErrors = metrics.counter({ name: 'sovren_gpu_ecc_uncorrected_errors_total', help: 'Uncorrected (volatile) ECC errors seen on the GPU.', labelNames });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.binary = this.env.SOVREN_NVIDIA_SMI_PATH ?? (await findOnPath('nvidia-smi'));
    if (!this.binary) {
      this.logger.log({ msg: 'nvidia-smi not found: no NVIDIA GPU on this host, GPU metrics are not exported' });
      return;
    }
    await this.sample();
    this.timer = setInterval(() => void this.sample(), GPU_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  latest(): GpuSample[] {
    return this.last;
  }

  async sample(): Promise<GpuSample[]> {
    if (!this.binary) return [];
    try {
      const gpus = parseNvidiaSmiCsv(await runNvidiaSmi(this.binary));
      this.publish(gpus);
      if (this.failing) this.logger.log({ msg: 'nvidia-smi answers again', binary: this.binary });
      this.failing = false;
      this.last = gpus;
    } catch (error) {
      if (!this.failing) {
        this.logger.warn({ msg: 'cannot read GPU metrics; retrying every interval', binary: this.binary, err: error instanceof Error ? error.message : String(error) });
      }
      this.failing = true;
      this.last = [];
      // Stale readings would look like a healthy GPU: drop them until nvidia-smi answers again.
      for (const gauge of [this.utilization, this.memoryUsed, this.memoryTotal, this.temperature, this.power]) gauge.reset();
    }
    return this.last;
  }

  private publish(gpus: GpuSample[]): void {
    for (const gauge of [this.utilization, this.memoryUsed, this.memoryTotal, this.temperature, this.power]) gauge.reset();
    for (const gpu of gpus) {
      const labels = { gpu: String(gpu.index), uuid: gpu.uuid, name: gpu.name };
      if (gpu.utilizationRatio !== undefined) this.utilization.set(labels, gpu.utilizationRatio);
      if (gpu.memoryUsedBytes !== undefined) this.memoryUsed.set(labels, gpu.memoryUsedBytes);
      if (gpu.memoryTotalBytes !== undefined) this.memoryTotal.set(labels, gpu.memoryTotalBytes);
      if (gpu.temperatureCelsius !== undefined) this.temperature.set(labels, gpu.temperatureCelsius);
      if (gpu.powerWatts !== undefined) this.power.set(labels, gpu.powerWatts);
      if (gpu.eccUncorrectedErrors !== undefined) {
        // nvidia-smi reports a running total since the driver loaded; the counter grows by what is new
        // (a smaller figure means the driver reloaded and counts from zero again).
        const seen = this.eccSeen.get(gpu.uuid) ?? 0;
        const increase = gpu.eccUncorrectedErrors >= seen ? gpu.eccUncorrectedErrors - seen : gpu.eccUncorrectedErrors;
        this.eccErrors.inc(labels, increase);
        this.eccSeen.set(gpu.uuid, gpu.eccUncorrectedErrors);
      }
    }
  }
}
