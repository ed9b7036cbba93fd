// Publishes this process's heartbeat on `monitoring.heartbeat.<service>` every SOVREN_HEARTBEAT_INTERVAL_SECONDS,
// from application bootstrap until shutdown. A failed beat (NATS down) is logged once per outage, not per beat:
// monitoring notices the silence anyway.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { heartbeatSubject, HeartbeatV1, NatsClient } from '@sovren/messaging';
import { INFERENCE_INTER_TOKEN_SECONDS, MetricsService } from '@sovren/observability';
import { hostname } from 'node:os';
import { errorMessage } from '@sovren/resilience';

import { buildHeartbeat, cumulativeHistogram, HeartbeatReadinessSource, httpTotals } from './heartbeat.message';

export const HEARTBEAT_OPTIONS = Symbol('HEARTBEAT_OPTIONS');
export const HEARTBEAT_READINESS = Symbol('HEARTBEAT_READINESS');

export interface HeartbeatOptions {
  service: string;
  intervalSeconds: number;
}

@Injectable()
export class HeartbeatPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HeartbeatPublisher.name);
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    @Inject(HEARTBEAT_OPTIONS) private readonly options: HeartbeatOptions,
    @Inject(HEARTBEAT_READINESS) private readonly readiness: HeartbeatReadinessSource,
    private readonly nats: NatsClient,
    private readonly config: PlatformConfig,
    private readonly metrics: MetricsService,
  ) {}

  /** `host:pid`, the same identity the NATS ping reports. */
  get instance(): string {
    return `${hostname()}:${process.pid}`;
  }

  onApplicationBootstrap(): void {
    this.beatSoon();
    this.timer = setInterval(() => this.beatSoon(), this.options.intervalSeconds * 1000);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Builds the current heartbeat (readiness is checked now). */
  async current(): Promise<HeartbeatV1> {
    const interToken = this.metrics.registry.getSingleMetric(INFERENCE_INTER_TOKEN_SECONDS);
    const [readiness, histogram, interTokenValues] = await Promise.all([
      this.readiness.check(),
      this.metrics.httpRequestDuration.get(),
      interToken ? interToken.get() : undefined,
    ]);
    return buildHeartbeat({
      service: this.options.service,
      instance: this.instance,
      version: this.config.version,
      intervalSeconds: this.options.intervalSeconds,
      startedAt: this.startedAt,
      now: Date.now(),
      readiness,
      http: httpTotals(histogram.values),
      interTokenSeconds: interTokenValues ? cumulativeHistogram(interTokenValues.values) : undefined,
    });
  }

  private beatSoon(): void {
    if (this.inFlight) return; // the previous beat is still checking readiness; skip rather than pile up
    this.inFlight = this.beat().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async beat(): Promise<void> {
    try {
      const heartbeat = await this.current();
      this.nats.publish(heartbeatSubject(this.options.service), heartbeat);
      if (this.failing) this.logger.log({ msg: 'heartbeats are being published again' });
      this.failing = false;
    } catch (error) {
      if (!this.failing) {
        this.logger.warn({
          msg: 'heartbeat not published; retrying every interval',
          err: errorMessage(error),
        });
      }
      this.failing = true;
    }
  }
}
