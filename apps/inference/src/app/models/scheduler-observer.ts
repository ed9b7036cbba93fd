// Feeds one model's scheduler events into the inference metrics (labelled with the model id).
import type { InferenceMetrics } from '../inference.metrics';
import type { SchedulerObserver } from '../scheduler/model-scheduler';

export function schedulerObserver(model: string, metrics: InferenceMetrics): SchedulerObserver {
  const labels = { model };
  return {
    onStep: ({ seconds, sequences, promptTokens, generatedTokens }) => {
      metrics.stepSeconds.observe(labels, seconds);
      metrics.stepSequences.observe(labels, sequences);
      if (promptTokens > 0) metrics.promptTokens.inc(labels, promptTokens);
      if (generatedTokens > 0) metrics.generatedTokens.inc(labels, generatedTokens);
    },
    onToken: (job, now, previous) => {
      if (previous === undefined) metrics.timeToFirstToken.observe(labels, (now - job.acceptedAt) / 1000);
      else metrics.interToken.observe(labels, (now - previous) / 1000);
    },
    onState: ({ queued, active, usedPositions, totalPositions }) => {
      metrics.queueDepth.set(labels, queued);
      metrics.activeSequences.set(labels, active);
      metrics.kvCacheOccupancy.set(labels, totalPositions > 0 ? usedPositions / totalPositions : 0);
    },
    onPrefixCache: ({ lookup, bytes, entries }) => {
      if (lookup) {
        metrics.prefixCacheLookups.inc(labels);
        if (lookup.hitTokens > 0) {
          metrics.prefixCacheHits.inc(labels);
          metrics.prefixCacheHitTokens.inc(labels, lookup.hitTokens);
        }
      }
      metrics.prefixCacheBytes.set(labels, bytes);
      metrics.prefixCacheEntries.set(labels, entries);
    },
  };
}
