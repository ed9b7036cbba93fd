// Every Prometheus metric of the monitoring service, created once: the platform status from heartbeats, the host
// and GPU samples, and the alerts. The names are fixed: the alert rules, the dashboards and docs/monitoring.md
// refer to them. MonitoringMetricsModule makes the one instance available to every monitoring feature.
import { Global, Injectable, Module } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { Counter, Gauge } from 'prom-client';

/** `worker`: the inference unit that owns the GPU (sovren-inference@N runs with CUDA_VISIBLE_DEVICES=N). */
export type GpuLabels = 'gpu' | 'uuid' | 'name' | 'worker';

@Injectable()
export class MonitoringMetrics {
  // ---- platform status (heartbeats) ----
  readonly heartbeats: Counter<'monitored_service'>;
  readonly serviceUp: Gauge<'monitored_service'>;
  readonly serviceReady: Gauge<'monitored_service'>;
  // ---- host ----
  readonly hostCpuUsage: Gauge;
  readonly hostMemoryTotal: Gauge;
  readonly hostMemoryAvailable: Gauge;
  readonly hostLoad: Gauge<'window'>;
  readonly hostDiskSize: Gauge<'path'>;
  readonly hostDiskAvailable: Gauge<'path'>;
  readonly hostDiskUsed: Gauge<'path'>;
  // ---- GPUs ----
  readonly gpuUtilization: Gauge<GpuLabels>;
  readonly gpuMemoryUsed: Gauge<GpuLabels>;
  readonly gpuMemoryTotal: Gauge<GpuLabels>;
  readonly gpuTemperature: Gauge<GpuLabels>;
  readonly gpuPower: Gauge<GpuLabels>;
  readonly gpuEccUncorrected: Counter<GpuLabels>;
  readonly gpuEccCorrected: Counter<GpuLabels>;
  // ---- alerts ----
  readonly alertsFiring: Gauge<'rule'>;
  readonly alertEvents: Counter<'rule' | 'state'>;

  constructor(metrics: MetricsService) {
    this.heartbeats = metrics.counter({
      name: 'sovren_monitoring_heartbeats_total',
      help: 'Heartbeats received, by the service that sent them.',
      labelNames: ['monitored_service'],
    });
    this.serviceUp = metrics.gauge({
      name: 'sovren_monitoring_service_up',
      help: '1 while at least one instance of the service sends heartbeats, else 0.',
      labelNames: ['monitored_service'],
    });
    this.serviceReady = metrics.gauge({
      name: 'sovren_monitoring_service_ready',
      help: '1 while every live instance of the service reports ready, else 0.',
      labelNames: ['monitored_service'],
    });

    this.hostCpuUsage = metrics.gauge({
      name: 'sovren_host_cpu_usage_ratio',
      help: 'Share of CPU time (all cores) spent busy over the last sample interval, 0-1.',
    });
    this.hostMemoryTotal = metrics.gauge({
      name: 'sovren_host_memory_total_bytes',
      help: 'Physical memory of the host in bytes.',
    });
    this.hostMemoryAvailable = metrics.gauge({
      name: 'sovren_host_memory_available_bytes',
      help: 'Memory available for new work (MemAvailable) in bytes.',
    });
    this.hostLoad = metrics.gauge({
      name: 'sovren_host_load_average',
      help: 'System load average over the window (1m, 5m, 15m).',
      labelNames: ['window'],
    });
    this.hostDiskSize = metrics.gauge({
      name: 'sovren_host_disk_size_bytes',
      help: 'Size of the file system holding the path, in bytes.',
      labelNames: ['path'],
    });
    this.hostDiskAvailable = metrics.gauge({
      name: 'sovren_host_disk_available_bytes',
      help: 'Bytes available to SOVREN on the file system holding the path.',
      labelNames: ['path'],
    });
    this.hostDiskUsed = metrics.gauge({
      name: 'sovren_host_disk_used_ratio',
      help: 'Used share of the file system holding the path, 0-1 (df Use%).',
      labelNames: ['path'],
    });

    const labelNames = ['gpu', 'uuid', 'name', 'worker'] as const;
    this.gpuUtilization = metrics.gauge({
      name: 'sovren_gpu_utilization_ratio',
      help: 'GPU busy share over the last sample period, 0-1.',
      labelNames,
    });
    this.gpuMemoryUsed = metrics.gauge({
      name: 'sovren_gpu_memory_used_bytes',
      help: 'GPU memory in use, bytes.',
      labelNames,
    });
    this.gpuMemoryTotal = metrics.gauge({
      name: 'sovren_gpu_memory_total_bytes',
      help: 'GPU memory installed, bytes.',
      labelNames,
    });
    this.gpuTemperature = metrics.gauge({
      name: 'sovren_gpu_temperature_celsius',
      help: 'GPU core temperature, degrees Celsius.',
      labelNames,
    });
    this.gpuPower = metrics.gauge({ name: 'sovren_gpu_power_watts', help: 'GPU power draw, watts.', labelNames });
    this.gpuEccUncorrected = metrics.counter({
      name: 'sovren_gpu_ecc_uncorrected_errors_total',
      help: 'Uncorrected (volatile) ECC errors seen on the GPU.',
      labelNames,
    });
    this.gpuEccCorrected = metrics.counter({
      name: 'sovren_gpu_ecc_corrected_errors_total',
      help: 'Corrected (volatile) ECC errors seen on the GPU (NVML only).',
      labelNames,
    });

    this.alertsFiring = metrics.gauge({
      name: 'sovren_monitoring_alerts_firing',
      help: 'Alerts firing now, by rule.',
      labelNames: ['rule'],
    });
    this.alertEvents = metrics.counter({
      name: 'sovren_monitoring_alert_events_total',
      help: 'Alert events sent, by rule and state (firing, resolved).',
      labelNames: ['rule', 'state'],
    });
  }
}

@Global()
@Module({ providers: [MonitoringMetrics], exports: [MonitoringMetrics] })
export class MonitoringMetricsModule {}
