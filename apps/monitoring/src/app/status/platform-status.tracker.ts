// Tracks every service instance from its heartbeats: up (ready), degraded (alive, a dependency failing) or down
// (three heartbeat intervals without a beat). Time is always passed in, so the logic is tested without clocks.
import { CumulativeHistogramV1, HeartbeatV1 } from '@sovren/messaging';

import { histogramDelta, histogramQuantile, histogramSum } from './histogram-window';

export type ComponentState = 'up' | 'degraded' | 'down';

/** An instance is down after this many missed heartbeat intervals. */
export const MISSED_BEATS_FOR_DOWN = 3;
/** Error rates are computed over this window. */
export const ERROR_RATE_WINDOW_MS = 5 * 60_000;
/** A down instance is forgotten after this long (a restarted one has a new instance id). */
export const FORGET_DOWN_AFTER_MS = 60 * 60_000;

export interface InstanceStatus {
  instance: string;
  state: ComponentState;
  since: string;
  version: string;
  uptimeSeconds: number;
  lastHeartbeatAt: string;
  failing: string[];
  lastError: string | null;
}

export interface ServiceStatus {
  service: string;
  state: ComponentState;
  since: string;
  lastError: string | null;
  /** False until the first heartbeat of this service reached monitoring. */
  seen: boolean;
  instances: InstanceStatus[];
}

export interface PlatformStatus {
  state: ComponentState;
  checkedAt: string;
  services: ServiceStatus[];
}

export interface ErrorRate {
  requests: number;
  serverErrors: number;
}

/** A latency quantile over the error-rate window, from the services' heartbeat histograms. */
export interface LatencyQuantile {
  seconds: number;
  observations: number;
}

interface InstanceRecord {
  service: string;
  instance: string;
  host: string;
  state: ComponentState;
  since: number;
  version: string;
  uptimeSeconds: number;
  lastHeartbeatAt: number;
  intervalMs: number;
  failing: string[];
  lastError: string | null;
  http: Array<{ at: number; requests: number; serverErrors: number }>;
  interToken: Array<{ at: number; histogram: CumulativeHistogramV1 }>;
}

export class PlatformStatusTracker {
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly serviceState = new Map<string, { state: ComponentState; since: number }>();

  /** `expected`: the services that must be running (a silent one is down); `startedAt`: when monitoring started. */
  constructor(
    private readonly expected: readonly string[],
    private readonly startedAt: number,
  ) {}

  /** Applies one heartbeat received at `now`. */
  record(beat: HeartbeatV1, now: number): void {
    const key = `${beat.service}/${beat.instance}`;
    const host = hostOf(beat.instance);
    let record = this.instances.get(key);
    if (!record) {
      // A new process on a host where this service's previous process is down: that one was restarted.
      for (const [otherKey, other] of this.instances) {
        if (other.service === beat.service && other.host === host && other.state === 'down')
          this.instances.delete(otherKey);
      }
      record = {
        service: beat.service,
        instance: beat.instance,
        host,
        state: 'down',
        since: now,
        version: beat.version,
        uptimeSeconds: 0,
        lastHeartbeatAt: now,
        intervalMs: beat.intervalSeconds * 1000,
        failing: [],
        lastError: null,
        http: [],
        interToken: [],
      };
      this.instances.set(key, record);
    }
    const state: ComponentState = beat.status === 'ok' ? 'up' : 'degraded';
    if (record.state !== state) {
      record.state = state;
      record.since = now;
    }
    record.version = beat.version;
    record.uptimeSeconds = beat.uptimeSeconds;
    record.lastHeartbeatAt = now;
    record.intervalMs = beat.intervalSeconds * 1000;
    record.failing = beat.failing ?? [];
    if (state === 'degraded') {
      record.lastError = beat.lastError ?? `not ready: ${record.failing.join(', ') || 'unknown dependency'} failing`;
    }
    if (beat.httpRequests !== undefined) {
      record.http.push({ at: now, requests: beat.httpRequests, serverErrors: beat.httpServerErrors ?? 0 });
      // Keep one sample older than the window so the window is always fully covered.
      while (record.http.length > 2 && record.http[1].at < now - ERROR_RATE_WINDOW_MS) record.http.shift();
    }
    if (beat.interTokenSeconds !== undefined) {
      record.interToken.push({ at: now, histogram: beat.interTokenSeconds });
      while (record.interToken.length > 2 && record.interToken[1].at < now - ERROR_RATE_WINDOW_MS)
        record.interToken.shift();
    }
    this.refreshService(beat.service, now);
  }

  /** Marks instances that missed three beats as down and forgets long-dead ones. Call it every second or so. */
  sweep(now: number): void {
    for (const [key, record] of this.instances) {
      if (record.state !== 'down' && now - record.lastHeartbeatAt > MISSED_BEATS_FOR_DOWN * record.intervalMs) {
        record.state = 'down';
        record.since = record.lastHeartbeatAt;
        record.lastError = `no heartbeat for ${Math.round((now - record.lastHeartbeatAt) / 1000)} s (${MISSED_BEATS_FOR_DOWN} missed)`;
      }
      if (record.state === 'down' && now - record.lastHeartbeatAt > FORGET_DOWN_AFTER_MS) this.instances.delete(key);
    }
    for (const service of this.serviceNames()) this.refreshService(service, now);
  }

  snapshot(now: number): PlatformStatus {
    const services = this.serviceNames().map((service) => this.serviceStatus(service, now));
    const state: ComponentState = services.some((s) => s.state === 'down')
      ? 'down'
      : services.some((s) => s.state === 'degraded')
        ? 'degraded'
        : 'up';
    return { state, checkedAt: new Date(now).toISOString(), services };
  }

  /** 5xx and total requests per service over the last ERROR_RATE_WINDOW_MS (instances that restarted count from 0). */
  errorRates(now: number): Map<string, ErrorRate> {
    const rates = new Map<string, ErrorRate>();
    for (const record of this.instances.values()) {
      const window = record.http.filter((s) => s.at >= now - ERROR_RATE_WINDOW_MS);
      const first = record.http.find((s) => s.at >= now - ERROR_RATE_WINDOW_MS - record.intervalMs * 2) ?? window[0];
      const last = window[window.length - 1];
      if (!first || !last || last === first) continue;
      const total = rates.get(record.service) ?? { requests: 0, serverErrors: 0 };
      total.requests += Math.max(0, last.requests - first.requests);
      total.serverErrors += Math.max(0, last.serverErrors - first.serverErrors);
      rates.set(record.service, total);
    }
    return rates;
  }

  /**
   * The q-quantile of inference inter-token latency per service over the last ERROR_RATE_WINDOW_MS, from the
   * difference between each instance's oldest and newest histogram in the window (like PromQL's rate over 5m).
   */
  interTokenQuantile(q: number, now: number): Map<string, LatencyQuantile> {
    const perService = new Map<string, CumulativeHistogramV1[]>();
    for (const record of this.instances.values()) {
      const window = record.interToken.filter((s) => s.at >= now - ERROR_RATE_WINDOW_MS);
      const first =
        record.interToken.find((s) => s.at >= now - ERROR_RATE_WINDOW_MS - record.intervalMs * 2) ?? window[0];
      const last = window[window.length - 1];
      // A single beat in the window: everything since the process started falls inside it.
      const delta = !last
        ? undefined
        : first && first !== last
          ? histogramDelta(first.histogram, last.histogram)
          : record.uptimeSeconds * 1000 <= ERROR_RATE_WINDOW_MS
            ? last.histogram
            : undefined;
      if (!delta) continue;
      perService.set(record.service, [...(perService.get(record.service) ?? []), delta]);
    }
    const quantiles = new Map<string, LatencyQuantile>();
    for (const [service, parts] of perService) {
      const total = histogramSum(parts);
      if (total && total.count > 0)
        quantiles.set(service, { seconds: histogramQuantile(q, total), observations: total.count });
    }
    return quantiles;
  }

  private serviceNames(): string[] {
    const names = new Set(this.expected);
    for (const record of this.instances.values()) names.add(record.service);
    return [...names].sort();
  }

  private computeState(service: string): ComponentState {
    const records = [...this.instances.values()].filter((r) => r.service === service);
    if (!records.some((r) => r.state !== 'down')) return 'down';
    return records.every((r) => r.state === 'up') ? 'up' : 'degraded';
  }

  private refreshService(service: string, now: number): { state: ComponentState; since: number } {
    const state = this.computeState(service);
    const current = this.serviceState.get(service);
    if (current && current.state === state) return current;
    const next = { state, since: current ? now : state === 'down' ? this.startedAt : now };
    this.serviceState.set(service, next);
    return next;
  }

  private serviceStatus(service: string, now: number): ServiceStatus {
    const { state, since } = this.serviceState.get(service) ?? this.refreshService(service, now);
    const records = [...this.instances.values()]
      .filter((r) => r.service === service)
      .sort((a, b) => a.instance.localeCompare(b.instance));
    const withError = records.filter((r) => r.lastError !== null).sort((a, b) => b.since - a.since)[0];
    return {
      service,
      state,
      since: new Date(since).toISOString(),
      lastError:
        withError?.lastError ??
        (records.length === 0
          ? `no heartbeat received since monitoring started at ${new Date(this.startedAt).toISOString()}`
          : null),
      seen: records.length > 0,
      instances: records.map((r) => ({
        instance: r.instance,
        state: r.state,
        since: new Date(r.since).toISOString(),
        version: r.version,
        uptimeSeconds: r.uptimeSeconds,
        lastHeartbeatAt: new Date(r.lastHeartbeatAt).toISOString(),
        failing: [...r.failing],
        lastError: r.lastError,
      })),
    };
  }
}

/** `host:pid` → `host` (the instance id format of @sovren/heartbeat). */
function hostOf(instance: string): string {
  const colon = instance.lastIndexOf(':');
  return colon > 0 ? instance.slice(0, colon) : instance;
}
