// The alert rules monitoring evaluates itself, mirrored one for one by deploy/prometheus/rules/sovren-alerts.yml
// (same alert names). Pure: inputs in, the conditions that hold now out.
import { AlertSeverity } from '@sovren/messaging';

import { ErrorRate, LatencyQuantile, ServiceStatus } from '../status/platform-status.tracker';

export const ALERT_RULES = [
  'ServiceDown',
  'ReadinessFailing',
  'HighErrorRate',
  'InferenceInterTokenLatencyHigh',
  'DiskNearlyFull',
  'GpuTemperatureHigh',
  'GpuMemoryNearlyFull',
  'StreamNearlyFull',
] as const;
export type AlertRuleName = (typeof ALERT_RULES)[number];

/** Error rates over fewer requests than this are noise, not an alert. */
export const MIN_REQUESTS_FOR_ERROR_RATE = 20;
/** A latency quantile over fewer observations than this is noise, not an alert. */
export const MIN_OBSERVATIONS_FOR_LATENCY = 100;

export interface AlertCondition {
  fingerprint: string;
  rule: AlertRuleName;
  severity: AlertSeverity;
  service?: string;
  summary: string;
}

export interface DiskReading {
  path: string;
  usedRatio: number;
}

export interface GpuReading {
  index: number;
  name: string;
  temperatureCelsius?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
}

/** A JetStream stream's fill: the larger of bytes / max_bytes and messages / max_msgs (unlimited: not counted). */
export interface StreamReading {
  stream: string;
  usedRatio: number;
  bytes: number;
  messages: number;
}

/** A stream past this much of its limits is near refusing (discard new) or dropping (discard old) messages. */
export const STREAM_NEARLY_FULL_RATIO = 0.8;

export interface AlertThresholds {
  diskUsedRatio: number;
  errorRatio: number;
  gpuTemperatureCelsius: number;
  gpuMemoryUsedRatio: number;
  interTokenP99Seconds: number;
}

export interface AlertInputs {
  services: ServiceStatus[];
  /** Services never heard from are only reported down once monitoring has waited long enough for a first beat. */
  startupGraceOver: boolean;
  errorRates: Map<string, ErrorRate>;
  /** p99 inter-token latency of streamed tokens per service (inference), over the same window as error rates. */
  interTokenP99: Map<string, LatencyQuantile>;
  disk?: DiskReading;
  gpus: GpuReading[];
  /** JetStream streams' fill (jetstream-streams.sampler.ts); absent until first read. */
  streams?: StreamReading[];
  thresholds: AlertThresholds;
}

const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;

export function evaluateAlertRules(inputs: AlertInputs): AlertCondition[] {
  const conditions: AlertCondition[] = [];
  for (const service of inputs.services) {
    if (service.state === 'down' && (service.seen || inputs.startupGraceOver)) {
      conditions.push({
        fingerprint: `ServiceDown:${service.service}`,
        rule: 'ServiceDown',
        severity: 'critical',
        service: service.service,
        summary: `${service.service} is down: ${service.lastError ?? 'no live instance'}`,
      });
    }
    const unready = service.instances.filter((i) => i.state === 'degraded');
    if (unready.length > 0) {
      const failing = [...new Set(unready.flatMap((i) => i.failing))].sort();
      conditions.push({
        fingerprint: `ReadinessFailing:${service.service}`,
        rule: 'ReadinessFailing',
        severity: 'warning',
        service: service.service,
        summary: `${service.service} is not ready on ${unready.length} instance(s): ${failing.join(', ') || 'a dependency'} failing`,
      });
    }
  }
  for (const [service, rate] of inputs.errorRates) {
    if (rate.requests < MIN_REQUESTS_FOR_ERROR_RATE) continue;
    const ratio = rate.serverErrors / rate.requests;
    if (ratio > inputs.thresholds.errorRatio) {
      conditions.push({
        fingerprint: `HighErrorRate:${service}`,
        rule: 'HighErrorRate',
        severity: 'warning',
        service,
        summary: `${service} answered ${percent(ratio)} of ${rate.requests} requests with 5xx over 5 minutes (limit ${percent(inputs.thresholds.errorRatio)})`,
      });
    }
  }
  for (const [service, p99] of inputs.interTokenP99) {
    if (p99.observations < MIN_OBSERVATIONS_FOR_LATENCY || !(p99.seconds > inputs.thresholds.interTokenP99Seconds))
      continue;
    conditions.push({
      fingerprint: `InferenceInterTokenLatencyHigh:${service}`,
      rule: 'InferenceInterTokenLatencyHigh',
      severity: 'warning',
      service,
      summary: `${service}: p99 time between streamed tokens is ${Math.round(p99.seconds * 1000)} ms over ${p99.observations} tokens in 5 minutes (limit ${Math.round(inputs.thresholds.interTokenP99Seconds * 1000)} ms)`,
    });
  }
  if (inputs.disk && inputs.disk.usedRatio > inputs.thresholds.diskUsedRatio) {
    conditions.push({
      fingerprint: `DiskNearlyFull:${inputs.disk.path}`,
      rule: 'DiskNearlyFull',
      severity: 'warning',
      summary: `the file system holding ${inputs.disk.path} is ${percent(inputs.disk.usedRatio)} full (limit ${percent(inputs.thresholds.diskUsedRatio)})`,
    });
  }
  for (const gpu of inputs.gpus) {
    if (gpu.temperatureCelsius !== undefined && gpu.temperatureCelsius > inputs.thresholds.gpuTemperatureCelsius) {
      conditions.push({
        fingerprint: `GpuTemperatureHigh:${gpu.index}`,
        rule: 'GpuTemperatureHigh',
        severity: 'warning',
        summary: `GPU ${gpu.index} (${gpu.name}) is at ${gpu.temperatureCelsius} °C (limit ${inputs.thresholds.gpuTemperatureCelsius} °C)`,
      });
    }
    if (gpu.memoryUsedBytes !== undefined && gpu.memoryTotalBytes) {
      const ratio = gpu.memoryUsedBytes / gpu.memoryTotalBytes;
      if (ratio > inputs.thresholds.gpuMemoryUsedRatio) {
        conditions.push({
          fingerprint: `GpuMemoryNearlyFull:${gpu.index}`,
          rule: 'GpuMemoryNearlyFull',
          severity: 'warning',
          summary: `GPU ${gpu.index} (${gpu.name}) memory is ${percent(ratio)} used (limit ${percent(inputs.thresholds.gpuMemoryUsedRatio)})`,
        });
      }
    }
  }
  for (const stream of inputs.streams ?? []) {
    if (stream.usedRatio <= STREAM_NEARLY_FULL_RATIO) continue;
    conditions.push({
      fingerprint: `StreamNearlyFull:${stream.stream}`,
      rule: 'StreamNearlyFull',
      severity: 'warning',
      summary: `JetStream stream ${stream.stream} is ${percent(stream.usedRatio)} full (${stream.messages} messages, ${stream.bytes} bytes; limit ${percent(STREAM_NEARLY_FULL_RATIO)}): its consumer is behind or down`,
    });
  }
  return conditions;
}
