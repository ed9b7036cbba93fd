// The voice service's media metrics (RTP quality per call, pacing, recordings), created once. The signalling
// metrics are in ../voice.metrics.ts; the Grafana voice panels refer to both by these names.
import { Injectable } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { RtpSessionStats } from '@sovren/rtp';
import type { Counter, Histogram } from 'prom-client';

const DIRECTIONS = ['inbound', 'outbound'] as const;
const LOSS_BUCKETS = [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1];
const JITTER_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2];
const PACING_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05];

@Injectable()
export class VoiceMediaMetrics {
  readonly lossRatio: Histogram<'direction'>;
  readonly remoteLossRatio: Histogram<'direction'>;
  readonly jitterSeconds: Histogram<'direction'>;
  readonly pacingP99Seconds: Histogram<'direction'>;
  readonly packets: Counter<'stream'>;
  readonly dropped: Counter<'reason'>;
  readonly recordings: Counter<'result'>;
  readonly recordingsSwept: Counter;

  constructor(metrics: MetricsService) {
    this.lossRatio = metrics.histogram({
      name: 'sovren_voice_rtp_loss_ratio',
      help: 'Per call: fraction of the caller RTP packets lost (never received in time), by call direction.',
      labelNames: ['direction'],
      buckets: LOSS_BUCKETS,
    });
    this.remoteLossRatio = metrics.histogram({
      name: 'sovren_voice_rtp_remote_loss_ratio',
      help: "Per call: the peer's last RTCP report of the fraction of our packets it lost, by call direction.",
      labelNames: ['direction'],
      buckets: LOSS_BUCKETS,
    });
    this.jitterSeconds = metrics.histogram({
      name: 'sovren_voice_rtp_jitter_seconds',
      help: 'Per call: interarrival jitter of the caller RTP (RFC 3550 A.8) at the end of the call.',
      labelNames: ['direction'],
      buckets: JITTER_BUCKETS,
    });
    this.pacingP99Seconds = metrics.histogram({
      name: 'sovren_voice_rtp_pacing_p99_seconds',
      help: 'Per call: 99th percentile of |send time - schedule| of our 20 ms RTP packets.',
      labelNames: ['direction'],
      buckets: PACING_BUCKETS,
    });
    this.packets = metrics.counter({
      name: 'sovren_voice_rtp_packets_total',
      help: 'RTP packets of finished calls, by stream (received, sent).',
      labelNames: ['stream'],
    });
    this.dropped = metrics.counter({
      name: 'sovren_voice_rtp_dropped_total',
      help: 'Datagrams dropped on call media ports: foreign (not the latched peer), malformed (not RTP we agreed).',
      labelNames: ['reason'],
    });
    this.recordings = metrics.counter({
      name: 'sovren_voice_recordings_total',
      help: 'Call recordings by result (saved, failed).',
      labelNames: ['result'],
    });
    this.recordingsSwept = metrics.counter({
      name: 'sovren_voice_recordings_swept_total',
      help: 'Recordings deleted by the retention sweep.',
    });
    for (const stream of ['received', 'sent']) this.packets.labels(stream).inc(0);
    for (const reason of ['foreign', 'malformed']) this.dropped.labels(reason).inc(0);
    for (const result of ['saved', 'failed']) this.recordings.labels(result).inc(0);
    for (const direction of DIRECTIONS) this.lossRatio.labels(direction);
  }

  /** A finished call's media quality, from RtpSession.stats(). */
  observeCall(stats: RtpSessionStats, direction: 'inbound' | 'outbound'): void {
    const expected = stats.packetsIn + stats.lost;
    if (expected > 0) this.lossRatio.labels(direction).observe(stats.lost / expected);
    if (stats.packetsIn > 1) this.jitterSeconds.labels(direction).observe(stats.jitterMs / 1000);
    if (stats.packetsOut > 0) this.pacingP99Seconds.labels(direction).observe(stats.pacingP99Ms / 1000);
    if (stats.remoteReport) this.remoteLossRatio.labels(direction).observe(stats.remoteReport.fractionLost);
    this.packets.labels('received').inc(stats.packetsIn);
    this.packets.labels('sent').inc(stats.packetsOut);
    this.dropped.labels('foreign').inc(stats.droppedForeign);
    this.dropped.labels('malformed').inc(stats.malformed);
  }
}
