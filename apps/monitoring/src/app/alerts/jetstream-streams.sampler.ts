// Reads how full each SOVREN JetStream stream is (stream info: bytes and messages against max_bytes / max_msgs)
// every few seconds, for the StreamNearlyFull alert rule and the gauge Prometheus mirrors it with
// (sovren_nats_stream_used_ratio{stream}). A stream that cannot be read keeps no reading (and is logged once).
import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { NatsClient, SOVREN_STREAMS } from '@sovren/messaging';
import { MetricsService } from '@sovren/observability';
import { errorMessage } from '@sovren/resilience';
import type { StreamInfo } from 'nats';
import type { Gauge } from 'prom-client';

import { StreamReading } from './alert-rules';

export const STREAM_SAMPLE_INTERVAL_MS = 10_000;

@Injectable()
export class JetStreamStreamsSampler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JetStreamStreamsSampler.name);
  private readonly usedRatio: Gauge<'stream'>;
  private readings: StreamReading[] = [];
  private readonly unreadable = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nats: NatsClient,
    metrics: MetricsService,
  ) {
    this.usedRatio = metrics.gauge({
      name: 'sovren_nats_stream_used_ratio',
      help: "A JetStream stream's fill: the larger of bytes / max_bytes and messages / max_msgs.",
      labelNames: ['stream'],
    });
  }

  onApplicationBootstrap(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), STREAM_SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  latest(): StreamReading[] {
    return this.readings;
  }

  /** Reads every stream now; `names` defaults to SOVREN's streams (stream info only: no list permission needed). */
  async sample(names: readonly string[] = SOVREN_STREAMS.map((stream) => stream.name)): Promise<StreamReading[]> {
    if (!this.nats.isConnected()) return this.readings;
    const readings: StreamReading[] = [];
    const jsm = await this.nats.jetstreamManager();
    for (const name of names) {
      try {
        readings.push(streamReading(await jsm.streams.info(name)));
        this.unreadable.delete(name);
      } catch (error) {
        if (!this.unreadable.has(name))
          this.logger.warn({ msg: 'JetStream stream not read', stream: name, err: errorMessage(error) });
        this.unreadable.add(name);
      }
    }
    for (const reading of readings) this.usedRatio.set({ stream: reading.stream }, reading.usedRatio);
    this.readings = readings;
    return readings;
  }
}

export function streamReading(info: StreamInfo): StreamReading {
  const ratio = (used: number, limit: number | undefined) => (limit !== undefined && limit > 0 ? used / limit : 0);
  return {
    stream: info.config.name,
    usedRatio: Math.max(
      ratio(info.state.bytes, info.config.max_bytes),
      ratio(info.state.messages, info.config.max_msgs),
    ),
    bytes: info.state.bytes,
    messages: info.state.messages,
  };
}
