import { MetricsService } from '@sovren/observability';
import type { RtpSessionStats } from '@sovren/rtp';

import { VoiceMediaMetrics } from '../voice-media.metrics';

const STATS: RtpSessionStats = {
  packetsIn: 970,
  packetsOut: 1000,
  lost: 30,
  jitterMs: 4,
  lateOrReordered: 2,
  pacingP99Ms: 1.5,
  remoteLatched: true,
  droppedForeign: 3,
  malformed: 1,
  remoteReport: { fractionLost: 0.01, cumulativeLost: 10, jitterMs: 2 },
};

describe('VoiceMediaMetrics', () => {
  it("turns a finished call's RTP stats into the loss, jitter and pacing histograms and the packet counters", async () => {
    const registry = new MetricsService('voice');
    const metrics = new VoiceMediaMetrics(registry);
    metrics.observeCall(STATS, 'inbound');
    const text = await registry.metrics();
    /** The value of the one sample of `name` whose labels include every `labels` pair (in any order). */
    const sample = (name: string, labels: string) => {
      const pairs = labels.split(',');
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && pairs.every((pair) => l.includes(pair)));
      return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    // 30 lost of 1000 expected: in the 0.05 bucket, not the 0.02 one.
    expect(sample('sovren_voice_rtp_loss_ratio_bucket', 'le="0.02",direction="inbound"')).toBe(0);
    expect(sample('sovren_voice_rtp_loss_ratio_bucket', 'le="0.05",direction="inbound"')).toBe(1);
    expect(sample('sovren_voice_rtp_jitter_seconds_bucket', 'le="0.005",direction="inbound"')).toBe(1);
    expect(sample('sovren_voice_rtp_pacing_p99_seconds_bucket', 'le="0.001",direction="inbound"')).toBe(0);
    expect(sample('sovren_voice_rtp_pacing_p99_seconds_bucket', 'le="0.002",direction="inbound"')).toBe(1);
    expect(sample('sovren_voice_rtp_remote_loss_ratio_sum', 'direction="inbound"')).toBeCloseTo(0.01);
    expect(sample('sovren_voice_rtp_packets_total', 'stream="received"')).toBe(970);
    expect(sample('sovren_voice_rtp_packets_total', 'stream="sent"')).toBe(1000);
    expect(sample('sovren_voice_rtp_dropped_total', 'reason="foreign"')).toBe(3);
    expect(sample('sovren_voice_rtp_dropped_total', 'reason="malformed"')).toBe(1);
  });
});
