// Host metrics on monitoring's /metrics: CPU, memory, load and the disk use of $SOVREN_ROOT, refreshed every
// few seconds; the latest sample also feeds the DiskNearlyFull alert rule.
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { Gauge } from 'prom-client';
import { errorMessage } from '@sovren/resilience';

import {
  cpuTimes,
  CpuTimes,
  cpuUsageBetween,
  diskUse,
  hostLoad,
  hostMemoryTotalBytes,
  HostSample,
  memoryAvailableBytes,
} from './host-metrics.sampler';
import { MonitoringMetrics } from '../monitoring.metrics';

export const HOST_SAMPLE_INTERVAL_MS = 5_000;

@Injectable()
export class HostMetricsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HostMetricsService.name);
  private readonly cpuUsage: Gauge;
  private readonly memoryTotal: Gauge;
  private readonly memoryAvailable: Gauge;
  private readonly load: Gauge<'window'>;
  private readonly diskSize: Gauge<'path'>;
  private readonly diskAvailable: Gauge<'path'>;
  private readonly diskUsed: Gauge<'path'>;
  private timer: NodeJS.Timeout | undefined;
  private previousCpu: CpuTimes = cpuTimes();
  private diskFailing = false;
  private last: HostSample | undefined;

  constructor(
    metrics: MonitoringMetrics,
    private readonly config: PlatformConfig,
  ) {
    this.cpuUsage = metrics.hostCpuUsage;
    this.memoryTotal = metrics.hostMemoryTotal;
    this.memoryAvailable = metrics.hostMemoryAvailable;
    this.load = metrics.hostLoad;
    this.diskSize = metrics.hostDiskSize;
    this.diskAvailable = metrics.hostDiskAvailable;
    this.diskUsed = metrics.hostDiskUsed;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => void this.sample(), HOST_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  latest(): HostSample | undefined {
    return this.last;
  }

  async sample(): Promise<HostSample> {
    const now = cpuTimes();
    const sample: HostSample = {
      cpuUsageRatio: cpuUsageBetween(this.previousCpu, now),
      memoryTotalBytes: hostMemoryTotalBytes(),
      memoryAvailableBytes: await memoryAvailableBytes(),
      load: hostLoad(),
    };
    this.previousCpu = now;
    try {
      sample.disk = await diskUse(this.config.sovrenRoot);
      if (this.diskFailing)
        this.logger.log({ msg: 'disk use of SOVREN_ROOT readable again', path: this.config.sovrenRoot });
      this.diskFailing = false;
    } catch (error) {
      if (!this.diskFailing) {
        this.logger.warn({
          msg: 'cannot read disk use of SOVREN_ROOT',
          path: this.config.sovrenRoot,
          err: errorMessage(error),
        });
      }
      this.diskFailing = true;
    }
    if (sample.cpuUsageRatio !== undefined) this.cpuUsage.set(sample.cpuUsageRatio);
    this.memoryTotal.set(sample.memoryTotalBytes);
    this.memoryAvailable.set(sample.memoryAvailableBytes);
    (['1m', '5m', '15m'] as const).forEach((window, i) => this.load.set({ window }, sample.load[i]));
    if (sample.disk) {
      const path = sample.disk.path;
      this.diskSize.set({ path }, sample.disk.sizeBytes);
      this.diskAvailable.set({ path }, sample.disk.availableBytes);
      this.diskUsed.set({ path }, sample.disk.usedRatio);
    } else {
      this.diskSize.reset();
      this.diskAvailable.reset();
      this.diskUsed.reset();
    }
    this.last = sample;
    return sample;
  }
}
