// Starts and ends the agent conversation of calls whose application is an agent: loads Silero VAD once, picks the
// models (named in the environment, else the first of each kind inference lists), and gives every session a sink
// that writes its transcript, publishes `voice.call.turn` events and feeds the agent metrics.
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import type { RtpSession } from '@sovren/rtp';
import { SileroVad } from '@sovren/speech';

import { CallEventsPublisher } from '../calls/call-events.publisher';
import type { VoiceApplication } from '../numbers/applications.repository';
import { AgentInferenceClient } from './agent-inference.client';
import { AgentSession, type AgentModels, type AgentSessionSink } from './agent-session';
import { AGENT_ENV, AgentEnv } from './agent.env';
import { AgentMetrics } from './agent.metrics';
import { CallTranscriptsRepository } from './call-transcripts.repository';

export interface AgentCall {
  id: string;
  application: VoiceApplication;
  media: RtpSession;
  hangup: (cause: string) => void;
  /** Blind transfer (SIP REFER); resolves with the final status (200: transferred). */
  transfer: (number: string) => Promise<number | null>;
}

@Injectable()
export class VoiceAgentService implements OnApplicationShutdown {
  private readonly logger = new Logger(VoiceAgentService.name);
  private vad: Promise<SileroVad> | null = null;
  private readonly pendingWrites = new Set<Promise<void>>();

  constructor(
    @Inject(AGENT_ENV) private readonly env: AgentEnv,
    private readonly inference: AgentInferenceClient,
    private readonly transcripts: CallTranscriptsRepository,
    private readonly events: CallEventsPublisher,
    private readonly metrics: AgentMetrics,
  ) {}

  /** Starts the conversation; resolves with the function that ends it (the call ended). */
  async start(call: AgentCall): Promise<() => void> {
    const [vad, models] = await Promise.all([this.loadVad(), this.models(call.application)]);
    const session = new AgentSession({
      callId: call.id,
      application: call.application,
      media: call.media,
      vad: vad.stream(),
      inference: this.inference,
      models,
      env: this.env,
      sink: this.sink(call),
      hangup: call.hangup,
      transfer: call.transfer,
    });
    session.start();
    return () => session.close();
  }

  /** Resolves once every transcript row started so far is written (call end, tests). */
  async whenIdle(): Promise<void> {
    while (this.pendingWrites.size > 0) await Promise.allSettled([...this.pendingWrites]);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.whenIdle();
    const vad = this.vad;
    this.vad = null;
    if (vad)
      await (await vad).close().catch((error: unknown) => this.logger.warn(`closing VAD: ${errorMessage(error)}`));
  }

  private loadVad(): Promise<SileroVad> {
    this.vad ??= SileroVad.load().catch((error: unknown) => {
      this.vad = null;
      throw new Error(`cannot load the Silero VAD model: ${errorMessage(error)}`);
    });
    return this.vad;
  }

  private async models(application: VoiceApplication): Promise<AgentModels> {
    const env = this.env;
    const configured = {
      llm: env.SOVREN_VOICE_AGENT_LLM_MODEL,
      whisper: env.SOVREN_VOICE_AGENT_ASR_MODEL,
      tts: env.SOVREN_VOICE_AGENT_TTS_MODEL,
    };
    // One inference.models request, and only when the environment leaves a kind open.
    const listed = Object.values(configured).some((id) => !id) ? await this.inference.defaultModels() : {};
    const pick = (kind: 'llm' | 'whisper' | 'tts', does: string): string => {
      const id = configured[kind] || listed[kind];
      if (!id) throw new Error(`inference lists no ${kind} model: the agent cannot ${does}`);
      return id;
    };
    return {
      llm: pick('llm', 'answer'),
      asr: pick('whisper', 'listen'),
      tts: pick('tts', 'speak'),
      voice: application.voice ?? env.SOVREN_VOICE_AGENT_DEFAULT_VOICE,
    };
  }

  private sink(call: AgentCall): AgentSessionSink {
    let seq = 0;
    const application = call.application;
    return {
      transcript: (entry) => {
        const write = this.transcripts
          .add(call.id, ++seq, entry)
          .catch((error: unknown) => {
            this.logger.error({
              msg: 'transcript row not written',
              callId: call.id,
              turn: entry.turn,
              err: errorMessage(error),
            });
          })
          .finally(() => this.pendingWrites.delete(write));
        this.pendingWrites.add(write);
      },
      turn: (turn) => {
        this.metrics.observeTurn(turn.latency);
        this.events.turn({ callId: call.id, applicationId: application.id, ownerId: application.ownerId, ...turn });
      },
      bargeIn: (kind, holdMs) => {
        this.metrics.interruptions.labels(kind).inc();
        this.metrics.holdSeconds.labels(kind).observe(holdMs / 1000);
      },
      turnOutcome: (outcome) => this.metrics.turns.labels(outcome).inc(),
    };
  }
}
