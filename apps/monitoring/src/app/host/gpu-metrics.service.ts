// GPU metrics per GPU on monitoring's /metrics, refreshed every few seconds from NVML (the native engine binds
// libnvidia-ml at run time) or, when NVML cannot be used, from `nvidia-smi --query-gpu`. On a host with neither
// (no NVIDIA GPU, or no engine addon and no nvidia-smi) the metrics are simply absent and one info line says so.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { NvmlGpu, NvmlGpuMetrics, readNvmlGpuMetrics } from '@sovren/engine';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { errorMessage } from '@sovren/resilience';

import { MONITORING_ENV, MonitoringEnv } from '../monitoring-config/monitoring.env';
import { GpuLabels, MonitoringMetrics } from '../monitoring.metrics';
import { GpuSample, nvidiaSmiArgs, parseNvidiaSmiCsv } from './nvidia-smi.parser';

export const GPU_SAMPLE_INTERVAL_MS = 5_000;
const NVIDIA_SMI_TIMEOUT_MS = 10_000;

/** How GpuMetricsService asks NVML (the engine addon's gpuMetrics(); a provider so tests can point it elsewhere). */
export const NVML_READER = Symbol('NVML_READER');
export type NvmlReader = () => Promise<NvmlGpuMetrics>;
export const nvmlReaderProvider = { provide: NVML_READER, useValue: (() => readNvmlGpuMetrics()) satisfies NvmlReader };

export function gpuSampleFromNvml(gpu: NvmlGpu): GpuSample {
  const sample: GpuSample = { index: gpu.index, uuid: gpu.uuid, name: gpu.name };
  if (gpu.utilizationPercent !== undefined) sample.utilizationRatio = gpu.utilizationPercent / 100;
  if (gpu.memoryUsedBytes !== undefined) sample.memoryUsedBytes = gpu.memoryUsedBytes;
  if (gpu.memoryTotalBytes !== undefined) sample.memoryTotalBytes = gpu.memoryTotalBytes;
  if (gpu.temperatureCelsius !== undefined) sample.temperatureCelsius = gpu.temperatureCelsius;
  if (gpu.powerWatts !== undefined) sample.powerWatts = gpu.powerWatts;
  if (gpu.eccCorrectedErrors !== undefined) sample.eccCorrectedErrors = gpu.eccCorrectedErrors;
  if (gpu.eccUncorrectedErrors !== undefined) sample.eccUncorrectedErrors = gpu.eccUncorrectedErrors;
  return sample;
}

interface GpuSource {
  name: 'nvml' | 'nvidia-smi';
  read: () => Promise<GpuSample[]>;
}

/** The first executable `nvidia-smi` on PATH, or undefined. */
export async function findOnPath(
  command: string,
  pathVariable = process.env['PATH'] ?? '',
): Promise<string | undefined> {
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
    execFile(
      binary,
      nvidiaSmiArgs(),
      { timeout: NVIDIA_SMI_TIMEOUT_MS, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${binary} failed: ${error.message}${stderr ? ` (${String(stderr).trim()})` : ''}`));
        else resolve(String(stdout));
      },
    );
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
  private readonly eccCorrected: Counter<GpuLabels>;
  private readonly eccSeen = new Map<string, number>();
  private source: GpuSource | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private last: GpuSample[] = [];

  constructor(
    metrics: MonitoringMetrics,
    @Inject(MONITORING_ENV) private readonly env: MonitoringEnv,
    @Inject(NVML_READER) private readonly readNvml: NvmlReader,
  ) {
    this.utilization = metrics.gpuUtilization;
    this.memoryUsed = metrics.gpuMemoryUsed;
    this.memoryTotal = metrics.gpuMemoryTotal;
    this.temperature = metrics.gpuTemperature;
    this.power = metrics.gpuPower;
    this.eccErrors = metrics.gpuEccUncorrected;
    this.eccCorrected = metrics.gpuEccCorrected;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.source = await this.chooseSource();
    if (!this.source) return;
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

  /** NVML first, nvidia-smi second; with neither, one info line and no GPU series. */
  private async chooseSource(): Promise<GpuSource | undefined> {
    const nvml = await this.readNvml();
    if (nvml.available) {
      this.logger.log({ msg: 'GPU metrics read through NVML', gpus: nvml.gpus.length });
      return { name: 'nvml', read: () => this.readNvmlSamples() };
    }
    const binary = this.env.SOVREN_NVIDIA_SMI_PATH ?? (await findOnPath('nvidia-smi'));
    if (!binary) {
      this.logger.log({
        msg: 'no NVIDIA GPU metrics source on this host (NVML and nvidia-smi absent): GPU metrics are not exported',
        nvml: nvml.reason,
      });
      return undefined;
    }
    this.logger.log({ msg: 'GPU metrics read through nvidia-smi', binary, nvml: nvml.reason });
    return { name: 'nvidia-smi', read: async () => parseNvidiaSmiCsv(await runNvidiaSmi(binary)) };
  }

  private async readNvmlSamples(): Promise<GpuSample[]> {
    const nvml = await this.readNvml();
    if (!nvml.available) throw new Error(nvml.reason);
    const broken = nvml.gpus.filter((gpu) => gpu.error !== undefined);
    if (broken.length > 0) throw new Error(broken.map((gpu) => `GPU ${gpu.index}: ${gpu.error}`).join('; '));
    return nvml.gpus.map(gpuSampleFromNvml);
  }

  async sample(): Promise<GpuSample[]> {
    const source = this.source;
    if (!source) return [];
    try {
      const gpus = await source.read();
      this.publish(gpus);
      if (this.failing) this.logger.log({ msg: 'GPU metrics readable again', source: source.name });
      this.failing = false;
      this.last = gpus;
    } catch (error) {
      if (!this.failing) {
        this.logger.warn({
          msg: 'cannot read GPU metrics; retrying every interval',
          source: source.name,
          err: errorMessage(error),
        });
      }
      this.failing = true;
      this.last = [];
      // Stale readings would look like a healthy GPU: drop them until nvidia-smi answers again.
      for (const gauge of [this.utilization, this.memoryUsed, this.memoryTotal, this.temperature, this.power])
        gauge.reset();
    }
    return this.last;
  }

  private publish(gpus: GpuSample[]): void {
    for (const gauge of [this.utilization, this.memoryUsed, this.memoryTotal, this.temperature, this.power])
      gauge.reset();
    for (const gpu of gpus) {
      const labels = { gpu: String(gpu.index), uuid: gpu.uuid, name: gpu.name, worker: inferenceWorkerOf(gpu.index) };
      if (gpu.utilizationRatio !== undefined) this.utilization.set(labels, gpu.utilizationRatio);
      if (gpu.memoryUsedBytes !== undefined) this.memoryUsed.set(labels, gpu.memoryUsedBytes);
      if (gpu.memoryTotalBytes !== undefined) this.memoryTotal.set(labels, gpu.memoryTotalBytes);
      if (gpu.temperatureCelsius !== undefined) this.temperature.set(labels, gpu.temperatureCelsius);
      if (gpu.powerWatts !== undefined) this.power.set(labels, gpu.powerWatts);
      if (gpu.eccUncorrectedErrors !== undefined)
        this.incrementBy(this.eccErrors, labels, `${gpu.uuid}:uncorrected`, gpu.eccUncorrectedErrors);
      if (gpu.eccCorrectedErrors !== undefined)
        this.incrementBy(this.eccCorrected, labels, `${gpu.uuid}:corrected`, gpu.eccCorrectedErrors);
    }
  }

  /**
   * NVML and nvidia-smi report running totals since the driver loaded; the counter grows by what is new (a
   * smaller figure means the driver reloaded and counts from zero again).
   */
  private incrementBy(
    counter: Counter<GpuLabels>,
    labels: Record<GpuLabels, string>,
    key: string,
    total: number,
  ): void {
    const seen = this.eccSeen.get(key) ?? 0;
    counter.inc(labels, total >= seen ? total - seen : total);
    this.eccSeen.set(key, total);
  }
}

/** The inference worker unit that uses GPU `index`: deploy runs one per GPU with CUDA_VISIBLE_DEVICES=index. */
export function inferenceWorkerOf(index: number): string {
  return `sovren-inference@${index}`;
}
