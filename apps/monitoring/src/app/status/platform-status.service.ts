// Feeds every heartbeat on `monitoring.heartbeat.*` into the PlatformStatusTracker and exports the result as
// metrics (sovren_monitoring_service_up / _ready) for Prometheus.
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { isServiceName, loadEnvConfig, SERVICE_NAMES } from '@sovren/config';
import { HeartbeatEnv } from '@sovren/heartbeat';
import { HEARTBEAT_ALL, heartbeatSubject, HeartbeatV1, NatsClient, parseHeartbeatV1 } from '@sovren/messaging';
import { Counter, Gauge } from 'prom-client';

import { MonitoringMetrics } from '../monitoring.metrics';
import { MISSED_BEATS_FOR_DOWN, PlatformStatus, PlatformStatusTracker } from './platform-status.tracker';

@Injectable()
export class PlatformStatusService implements OnApplicationBootstrap {
  private readonly logger = new Logger(PlatformStatusService.name);
  readonly startedAt = Date.now();
  readonly tracker = new PlatformStatusTracker(SERVICE_NAMES, this.startedAt);
  /** How long to wait for the first heartbeat of each service before a silent one counts as down. */
  readonly startupGraceMs =
    (MISSED_BEATS_FOR_DOWN + 1) * loadEnvConfig(HeartbeatEnv).SOVREN_HEARTBEAT_INTERVAL_SECONDS * 1000;
  private readonly ignored = new Set<string>();
  private readonly heartbeats: Counter<'monitored_service'>;
  private readonly serviceUp: Gauge<'monitored_service'>;
  private readonly serviceReady: Gauge<'monitored_service'>;

  constructor(
    private readonly nats: NatsClient,
    metrics: MonitoringMetrics,
  ) {
    this.heartbeats = metrics.heartbeats;
    this.serviceUp = metrics.serviceUp;
    this.serviceReady = metrics.serviceReady;
  }

  onApplicationBootstrap(): void {
    this.nats.subscribe<HeartbeatV1>(HEARTBEAT_ALL, (beat, context) => this.onHeartbeat(beat, context.subject), {
      parse: parseHeartbeatV1,
    });
  }

  onHeartbeat(beat: HeartbeatV1, subject: string): void {
    if (!isServiceName(beat.service) || subject !== heartbeatSubject(beat.service)) {
      // Logged once per sender, so a misconfigured publisher cannot flood the log every few seconds.
      if (!this.ignored.has(subject)) {
        this.ignored.add(subject);
        this.logger.warn({
          msg: 'heartbeat ignored: not from a SOVREN service, or its service does not match its subject',
          subject,
          service: beat.service,
        });
      }
      return;
    }
    this.heartbeats.inc({ monitored_service: beat.service });
    this.tracker.record(beat, Date.now());
  }

  /** Marks silent instances down and refreshes the service gauges; returns the current platform status. */
  refresh(now = Date.now()): PlatformStatus {
    this.tracker.sweep(now);
    const status = this.tracker.snapshot(now);
    for (const service of status.services) {
      this.serviceUp.set({ monitored_service: service.service }, service.state === 'down' ? 0 : 1);
      this.serviceReady.set({ monitored_service: service.service }, service.state === 'up' ? 1 : 0);
    }
    return status;
  }
}
