// Prometheus metrics of the voice agent: per-turn voice-to-voice latency and its stages, turn outcomes,
// barge-ins and backchannels. The Grafana dashboard's agent panels refer to these names.
import { Injectable } from '@nestjs/common';
import { MetricsService } from '@sovren/observability';
import type { Counter, Histogram } from 'prom-client';

import type { TurnLatency } from './agent-session';

export const TURN_STAGES = [
  'endpointing',
  'asr',
  'llm_first_token',
  'first_sentence',
  'tts_first_audio',
  'queueing',
  'total',
] as const;
const STAGE_OF: Record<keyof TurnLatency, (typeof TURN_STAGES)[number]> = {
  endpointingMs: 'endpointing',
  asrMs: 'asr',
  llmFirstTokenMs: 'llm_first_token',
  firstSentenceMs: 'first_sentence',
  ttsFirstAudioMs: 'tts_first_audio',
  queueingMs: 'queueing',
  totalMs: 'total',
};
const LATENCY_BUCKETS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10, 30];
export const TURN_OUTCOMES = ['answered', 'interrupted', 'empty', 'error', 'superseded'] as const;

@Injectable()
export class AgentMetrics {
  readonly turnLatency: Histogram<'stage'>;
  readonly turns: Counter<'outcome'>;
  readonly interruptions: Counter<'kind'>;
  readonly holdSeconds: Histogram<'kind'>;

  constructor(metrics: MetricsService) {
    this.turnLatency = metrics.histogram({
      name: 'sovren_voice_agent_turn_latency_seconds',
      help: 'Agent turn latency by stage; stage="total" is end of caller speech to first agent audio on the wire.',
      labelNames: ['stage'],
      buckets: LATENCY_BUCKETS,
    });
    this.turns = metrics.counter({
      name: 'sovren_voice_agent_turns_total',
      help: 'Caller turns by outcome (answered, interrupted, empty transcript, error, superseded by more speech).',
      labelNames: ['outcome'],
    });
    this.interruptions = metrics.counter({
      name: 'sovren_voice_agent_interruptions_total',
      help: 'Caller speech over the agent: barge_in (the agent stopped) or backchannel (it went on).',
      labelNames: ['kind'],
    });
    this.holdSeconds = metrics.histogram({
      name: 'sovren_voice_agent_hold_seconds',
      help: 'How long agent audio was held back while deciding between barge-in and backchannel.',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
    });
    for (const outcome of TURN_OUTCOMES) this.turns.labels(outcome).inc(0);
    for (const kind of ['barge_in', 'backchannel']) this.interruptions.labels(kind).inc(0);
  }

  observeTurn(latency: TurnLatency): void {
    for (const [field, stage] of Object.entries(STAGE_OF) as [keyof TurnLatency, string][]) {
      const ms = latency[field];
      if (ms !== undefined) this.turnLatency.labels(stage).observe(ms / 1000);
    }
  }
}
