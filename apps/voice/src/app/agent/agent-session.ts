// One live agent conversation on one call. Caller audio (16 kHz frames from the RTP session) goes through Silero
// VAD into the endpointer; at the end of a turn the utterance is transcribed, the reply is generated as a stream,
// cut into sentences, each synthesised (8 kHz, the telephone rate) and queued on the paced RTP stream as it
// arrives. Caller speech while the agent talks first holds the agent's audio back, then either lets it resume (a
// backchannel) or ends the reply (a barge-in: LLM and TTS cancelled, history cut at what the caller heard). A
// caller who says nothing gets one prompt, then a goodbye and a hang-up.
import { Logger } from '@nestjs/common';
import type {
  CallTurnActionV1,
  CallTurnLatencyV1,
  InferenceChatMessageV1,
  InferenceToolCallV1,
  InferenceToolV1,
  InferenceTranscribeResultV1,
} from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';
import type { RtpSession } from '@sovren/rtp';
import {
  Endpointer,
  endpointerSettings,
  SentenceStream,
  VAD_FRAME_MS,
  type EndpointerEvent,
  type VadStream,
} from '@sovren/speech';
import { randomUUID } from 'node:crypto';

import type { VoiceApplication } from '../numbers/applications.repository';
import {
  AgentInferenceError,
  type AgentInferenceClient,
  type ReplyStream,
  type SpeechStream,
} from './agent-inference.client';
import type { AgentEnv } from './agent.env';
import { heardText, historyWithin, type SpokenPiece } from './conversation';

/** Sample rate of caller audio for VAD and recognition. */
const CALLER_RATE = 16_000;
/** Telephone rate: synthesis is asked for it, so no resampling happens in this process. */
const AGENT_RATE = 8_000;
/** Whisper's window: a longer utterance keeps only its last 30 s. */
const MAX_UTTERANCE_SAMPLES = 30 * CALLER_RATE;
/** Caller audio kept for cutting utterances (the window plus room for the pre-roll). */
const KEPT_SAMPLES = 32 * CALLER_RATE;
/** VAD probability from which a frame counts as the rising edge of speech (below the 0.5 speech threshold). */
const ONSET_PROBABILITY = 0.2;
/** Caller silence after which the utterance so far is transcribed speculatively (before the end-of-turn silence). */
const SPECULATE_AFTER_MS = 200;
/** Silence after a held-back burst of speech that shows it was a backchannel. */
const BACKCHANNEL_SILENCE_MS = 160;

export interface AgentModels {
  llm: string;
  asr: string;
  tts: string;
  voice: string;
}

/** A finished agent utterance (greeting, prompt or reply), or a caller utterance. */
export interface TranscriptEntry {
  turn: number;
  speaker: 'caller' | 'agent';
  text: string;
  heardText: string | null;
  interrupted: boolean;
  startedAt: Date;
  endedAt: Date;
  latency: TurnLatency | null;
}

/** Where a turn's time went (ms): the `voice.call.turn` contract's breakdown. */
export type TurnLatency = CallTurnLatencyV1;

/** What the session reports; the service persists, publishes and measures it. */
export interface AgentSessionSink {
  transcript(entry: TranscriptEntry): void;
  turn(turn: {
    turn: number;
    callerText: string;
    agentText: string;
    heardText: string;
    interrupted: boolean;
    latency: TurnLatency;
    actions?: CallTurnActionV1[];
  }): void;
  bargeIn(kind: 'barge_in' | 'backchannel', holdMs: number): void;
  turnOutcome(outcome: 'answered' | 'interrupted' | 'empty' | 'error' | 'superseded'): void;
}

export interface AgentSessionOptions {
  callId: string;
  application: VoiceApplication;
  media: RtpSession;
  vad: VadStream;
  inference: AgentInferenceClient;
  models: AgentModels;
  env: AgentEnv;
  sink: AgentSessionSink;
  hangup: (cause: string) => void;
  /** Blind transfer of the call (SIP REFER); resolves with the final status (200: transferred). */
  transfer: (number: string) => Promise<number | null>;
}

/** An agent utterance in progress: its text pieces, their synthesis and the audio queued for each. */
class Utterance {
  readonly pieces: SpokenPiece[] = [];
  cancelled = false;
  firstAudioAt: number | null = null;
  firstAudioOnWireAt: number | null = null;
  ttsFirstAudioMs: number | undefined;
  private speech: SpeechStream | null = null;
  private synthesis: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(readonly startedAt: Date) {}

  get text(): string {
    return this.pieces.map((p) => p.text).join(' ');
  }

  /** Queues `text` for synthesis after the pieces before it. */
  say(text: string, synthesise: (text: string) => Promise<SpeechStream>, play: (pcm: Int16Array) => void): void {
    const piece: SpokenPiece = { text, audioMs: 0 };
    this.pieces.push(piece);
    this.synthesis = this.synthesis.then(async () => {
      if (this.cancelled || this.failure) return;
      const sentAt = Date.now();
      try {
        this.speech = await synthesise(text);
        for await (const pcm of this.speech.chunks()) {
          if (this.cancelled) break;
          if (this.firstAudioAt === null) {
            this.firstAudioAt = Date.now();
            this.ttsFirstAudioMs = this.firstAudioAt - sentAt;
          }
          piece.audioMs += (pcm.length * 1000) / AGENT_RATE;
          play(pcm);
        }
      } catch (error) {
        if (!this.cancelled) this.failure = error;
      } finally {
        this.speech = null;
      }
    });
  }

  /** Resolves once every piece is synthesised and queued; rethrows the first synthesis failure. */
  async synthesised(): Promise<void> {
    await this.synthesis;
    if (this.failure) throw this.failure;
  }

  cancel(): void {
    this.cancelled = true;
    this.speech?.cancel();
  }
}

/** The reply being prepared or spoken for one caller turn. */
interface Turn {
  index: number;
  utterance: Utterance | null;
  reply: ReplyStream | null;
  cancelled: boolean;
  /** Stream time (ms) from which the caller's audio of this turn starts (a merged turn keeps the earlier start). */
  audioFromMs: number;
  speechEndAt: number;
  callerStartedAt: Date;
  callerText: string;
  /** The caller's message in the history (taken back out when the caller goes on before any answer). */
  userMessage: InferenceChatMessageV1 | null;
  latency: TurnLatency;
}

const DTMF = /^[0-9*#A-Da-d]{1,32}$/;
/** Room for the tool calls of one reply, on top of the spoken words' budget (which the session enforces itself). */
const TOOL_CALL_TOKENS = 256;

/** The tools of an agent application: its allowed actions, transfer only with numbers to transfer to. */
export function agentTools(application: VoiceApplication): InferenceToolV1[] {
  if (application.agentToolChoice === 'none') return [];
  const closed = (properties: Record<string, unknown>, required: string[]) => ({
    type: 'object',
    properties,
    required,
    additionalProperties: false,
  });
  const tools: InferenceToolV1[] = [];
  for (const action of application.agentActions) {
    if (action === 'hang_up') {
      tools.push({ name: action, description: 'End the call, after saying goodbye.', parameters: closed({}, []) });
    } else if (action === 'send_dtmf') {
      tools.push({
        name: action,
        description: 'Press telephone keys (0-9, *, #) on the line, e.g. to navigate a menu.',
        parameters: closed({ digits: { type: 'string' } }, ['digits']),
      });
    } else if (action === 'transfer_call' && application.transferNumbers.length > 0) {
      tools.push({
        name: action,
        description: 'Transfer the caller to a person at one of these numbers.',
        parameters: closed({ number: { enum: application.transferNumbers } }, ['number']),
      });
    }
  }
  return tools;
}

/** The turn's latency with the stages only the utterance knows (absent when no audio went out). */
function completeLatency(turn: Turn, utterance: Utterance): TurnLatency {
  const latency: TurnLatency = { ...turn.latency };
  if (utterance.ttsFirstAudioMs !== undefined) latency.ttsFirstAudioMs = utterance.ttsFirstAudioMs;
  if (utterance.firstAudioAt !== null && utterance.firstAudioOnWireAt !== null) {
    latency.queueingMs = utterance.firstAudioOnWireAt - utterance.firstAudioAt;
    latency.totalMs = utterance.firstAudioOnWireAt - turn.speechEndAt;
  }
  return latency;
}

export class AgentSession {
  private readonly logger = new Logger(AgentSession.name);
  private readonly endpointer: Endpointer;
  private readonly history: InferenceChatMessageV1[] = [];
  private readonly system: InferenceChatMessageV1 | null;
  private closed = false;
  private turnIndex = 0;
  /** The agent's utterance on the wire or being prepared (greeting, prompt, or a reply's). */
  private speaking: Utterance | null = null;
  private turn: Turn | null = null;

  // Caller audio at 16 kHz, as chunks with the stream sample index of their first sample.
  private readonly audio: { start: number; pcm: Int16Array }[] = [];
  private samples = 0;
  private vadChain: Promise<void> = Promise.resolve();

  // Caller speech over the agent: when it started (stream ms), whether the agent's audio is held, last voiced frame.
  private overlap: {
    speechStartMs: number;
    /** The endpointer's start of this speech (what its turn-end will name). */
    turnStartMs: number;
    heldAt: number | null;
    lastVoicedMs: number;
  } | null = null;
  /** Start (stream ms) of the current run of frames at or above ONSET_PROBABILITY. */
  private risingFromMs: number | null = null;
  /** Where the current speech's audio starts (with pre-roll), from its speech-start; null outside speech. */
  private speechAudioFromMs: number | null = null;
  /** Start (stream ms) of the silence inside the current speech, or null while voiced. */
  private silentFromMs: number | null = null;
  /** A transcription of the utterance up to `speechEndMs`, started before the turn was declared over. */
  private speculation: {
    audioFromMs: number;
    speechEndMs: number;
    transcript: Promise<InferenceTranscribeResultV1>;
  } | null = null;
  private readonly endThreshold: number;
  /** A backchannel's speech start: its turn-end (if any) is not a turn. */
  private ignoredSpeechStartMs: number | null = null;
  /** Start of a turn that was superseded before the agent spoke: the next turn's audio begins there. */
  private carriedAudioFromMs: number | null = null;

  private silenceTimer: NodeJS.Timeout | null = null;
  private silencePrompts = 0;
  private readonly onAudio = (frame: Int16Array) => this.onCallerFrame(frame);

  /** The actions offered to the model as tools (none when the application's tool choice is `none`). */
  private readonly tools: InferenceToolV1[];

  constructor(private readonly options: AgentSessionOptions) {
    this.tools = agentTools(options.application);
    const settings = endpointerSettings({ endMs: options.application.endOfTurnMs });
    this.endpointer = new Endpointer(VAD_FRAME_MS, settings);
    this.endThreshold = settings.endThreshold ?? settings.threshold;
    const prompt = options.application.systemPrompt?.trim();
    this.system = prompt ? { role: 'system', content: prompt } : null;
  }

  /** Starts listening and plays the greeting. */
  start(): void {
    this.options.media.on('audio', this.onAudio);
    const greeting = this.options.application.greeting?.trim();
    if (greeting) void this.speakFixed(greeting, 'greeting');
    else this.armSilenceTimer();
  }

  /** Ends everything (the call ended): no request keeps running for it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.options.media.off('audio', this.onAudio);
    this.clearSilenceTimer();
    if (this.turn) this.cancelTurn(this.turn);
    this.speaking?.cancel();
    this.speaking = null;
  }

  // ---- caller audio ----

  private onCallerFrame(frame: Int16Array): void {
    if (this.closed) return;
    this.audio.push({ start: this.samples, pcm: frame });
    this.samples += frame.length;
    while (this.audio.length > 0 && this.samples - this.audio[0].start > KEPT_SAMPLES) this.audio.shift();
    const floats = new Float32Array(frame.length);
    for (let i = 0; i < frame.length; i++) floats[i] = frame[i] / 32768;
    this.vadChain = this.vadChain
      .then(async () => {
        if (this.closed) return;
        for (const probability of await this.options.vad.push(floats)) this.onProbability(probability);
      })
      .catch((error: unknown) => {
        this.logger.error({
          msg: 'voice activity detection failed',
          callId: this.options.callId,
          err: errorMessage(error),
        });
      });
  }

  private onProbability(probability: number): void {
    const frameStartMs = this.endpointer.elapsedMs;
    if (probability < ONSET_PROBABILITY) this.risingFromMs = null;
    else this.risingFromMs ??= frameStartMs;
    const events = this.endpointer.push(probability);
    const nowMs = this.endpointer.elapsedMs;
    if (this.overlap && probability >= this.endThreshold) this.overlap.lastVoicedMs = nowMs;
    for (const event of events) this.onEndpointerEvent(event);
    if (this.overlap) this.checkOverlap(nowMs);
    this.trackSilence(probability, frameStartMs, nowMs);
  }

  /**
   * Speculative recognition: once the caller has been silent for SPECULATE_AFTER_MS (well before the end-of-turn
   * silence runs out), transcribe the utterance so far; if the turn then ends there, its transcript is ready or
   * nearly. Speech that goes on drops the speculation (its audio seconds are billed all the same).
   */
  private trackSilence(probability: number, frameStartMs: number, nowMs: number): void {
    if (!this.endpointer.inSpeech || this.speechAudioFromMs === null) {
      this.silentFromMs = null;
      return;
    }
    if (probability >= this.endThreshold) {
      this.silentFromMs = null;
      this.speculation = null;
      return;
    }
    this.silentFromMs ??= frameStartMs;
    if (
      this.options.env.SOVREN_VOICE_AGENT_SPECULATIVE_ASR_ENABLED !== 'true' ||
      this.speculation ||
      this.overlap ||
      nowMs - this.silentFromMs < SPECULATE_AFTER_MS
    ) {
      return;
    }
    const audioFromMs = Math.min(this.carriedAudioFromMs ?? this.speechAudioFromMs, this.speechAudioFromMs);
    const speechEndMs = this.silentFromMs;
    const transcript = this.transcribe(this.callerAudio(audioFromMs, speechEndMs + 100), 'spec');
    // A speculation nobody waits for must not surface as an unhandled rejection; the turn that uses it sees the error.
    transcript.catch((error: unknown) => {
      this.logger.warn({
        msg: 'speculative recognition failed',
        callId: this.options.callId,
        err: errorMessage(error),
      });
    });
    this.speculation = { audioFromMs, speechEndMs, transcript };
  }

  private transcribe(pcm: Int16Array, kind: string): Promise<InferenceTranscribeResultV1> {
    const { application, inference, models } = this.options;
    return inference.transcribe(pcm, {
      ownerId: application.ownerId,
      requestId: `${this.options.callId}-asr-${kind}-${randomUUID().slice(0, 8)}`,
      model: models.asr,
      language: application.language || undefined,
    });
  }

  private onEndpointerEvent(event: EndpointerEvent): void {
    switch (event.type) {
      case 'speech-start':
        this.clearSilenceTimer();
        this.silencePrompts = 0;
        this.speechAudioFromMs = event.audioFromMs;
        this.speculation = null;
        if (this.speaking && this.agentAudible()) {
          // The barge-in clock starts where the probability began to rise, not where it crossed the threshold:
          // Silero needs a frame or two of a word before it is sure.
          const speechStartMs = Math.min(event.speechStartMs, this.risingFromMs ?? event.speechStartMs);
          this.overlap = { speechStartMs, turnStartMs: event.speechStartMs, heldAt: null, lastVoicedMs: event.atMs };
        } else if (this.turn && !this.turn.utterance?.firstAudioAt) {
          // The caller goes on before the agent said anything: this speech continues the same turn.
          const turn = this.turn;
          this.carriedAudioFromMs = turn.audioFromMs;
          this.cancelTurn(turn);
          if (turn.userMessage) this.history.splice(this.history.indexOf(turn.userMessage), 1);
          this.options.sink.turnOutcome('superseded');
        }
        return;
      case 'speech-discarded':
        if (this.ignoredSpeechStartMs === event.speechStartMs) this.ignoredSpeechStartMs = null;
        if (!this.turn && !this.speaking) this.armSilenceTimer();
        return;
      case 'turn-end': {
        this.overlap = null;
        if (this.ignoredSpeechStartMs === event.speechStartMs) {
          this.ignoredSpeechStartMs = null;
          return;
        }
        const audioFromMs = Math.min(this.carriedAudioFromMs ?? event.audioFromMs, event.audioFromMs);
        this.carriedAudioFromMs = null;
        this.speechAudioFromMs = null;
        const speechEndAt = Date.now() - (event.atMs - event.speechEndMs);
        const speculation = this.speculation;
        this.speculation = null;
        const ready =
          speculation && speculation.audioFromMs === audioFromMs && speculation.speechEndMs === event.speechEndMs
            ? speculation.transcript
            : null;
        void this.runTurn(audioFromMs, event.speechEndMs, speechEndAt, ready);
        return;
      }
    }
  }

  /** Whether agent audio is going out or about to (queued, or a reply being synthesised). */
  private agentAudible(): boolean {
    return this.options.media.playbackQueuedMs > 0 || (this.speaking?.firstAudioAt ?? null) !== null;
  }

  /** Caller speech over the agent: hold the audio at the barge-in threshold, then decide. */
  private checkOverlap(nowMs: number): void {
    const overlap = this.overlap;
    if (!overlap) return;
    const env = this.options.env;
    const voicedMs = overlap.lastVoicedMs - overlap.speechStartMs;
    if (overlap.heldAt === null) {
      if (nowMs - overlap.speechStartMs >= env.SOVREN_VOICE_AGENT_BARGE_IN_MS && this.speaking) {
        overlap.heldAt = Date.now();
        this.options.media.pausePlayback(true);
      }
      return;
    }
    if (voicedMs >= env.SOVREN_VOICE_AGENT_BACKCHANNEL_MS) {
      this.overlap = null;
      this.options.sink.bargeIn('barge_in', Date.now() - overlap.heldAt);
      this.interrupt();
      return;
    }
    if (nowMs - overlap.lastVoicedMs >= BACKCHANNEL_SILENCE_MS) {
      // "mm-hm": the agent goes on where it stopped; the endpointer's end of this speech is no turn.
      this.overlap = null;
      this.ignoredSpeechStartMs = overlap.turnStartMs;
      this.options.media.pausePlayback(false);
      this.options.sink.bargeIn('backchannel', Date.now() - overlap.heldAt);
    }
  }

  /** Barge-in: stop the agent now and keep in the history only what the caller heard. */
  private interrupt(): void {
    const utterance = this.speaking;
    if (!utterance) return;
    const playedMs = this.options.media.flushPlayback();
    utterance.cancel();
    this.speaking = null;
    const heard = heardText(utterance.pieces, playedMs);
    const turn = this.turn;
    if (turn) {
      this.cancelTurn(turn);
      this.turn = null;
      this.recordCaller(turn);
      this.finishAgentUtterance(turn.index, utterance, heard, true);
      this.options.sink.turn({
        turn: turn.index,
        callerText: turn.callerText,
        agentText: utterance.text,
        heardText: heard,
        interrupted: true,
        latency: completeLatency(turn, utterance),
      });
      this.options.sink.turnOutcome('interrupted');
    } else {
      this.finishAgentUtterance(this.turnIndex, utterance, heard, true);
    }
  }

  // ---- turns ----

  private async runTurn(
    audioFromMs: number,
    speechEndMs: number,
    speechEndAt: number,
    speculative: Promise<InferenceTranscribeResultV1> | null,
  ): Promise<void> {
    if (this.closed) return;
    const endpointingMs = Math.max(0, Date.now() - speechEndAt);
    const pcm = this.callerAudio(audioFromMs, speechEndMs + 100);
    if (pcm.length === 0) return;
    const turn: Turn = {
      index: ++this.turnIndex,
      utterance: null,
      reply: null,
      cancelled: false,
      audioFromMs,
      speechEndAt,
      callerStartedAt: new Date(speechEndAt - (speechEndMs - audioFromMs)),
      callerText: '',
      userMessage: null,
      latency: { endpointingMs, asrMs: 0 },
    };
    if (this.turn) this.cancelTurn(this.turn);
    this.turn = turn;
    const { env } = this.options;
    const latency = turn.latency;
    try {
      // With a speculation of exactly this utterance, only what is left of its run counts as waiting for ASR.
      const asrStart = Date.now();
      const transcript = await (speculative ?? this.transcribe(pcm, String(turn.index)));
      latency.asrMs = Date.now() - asrStart;
      if (turn.cancelled) return;
      const callerText = transcript.text.trim();
      turn.callerText = callerText;
      if (callerText.length === 0) {
        this.turn = null;
        this.options.sink.turnOutcome('empty');
        if (!this.speaking) this.armSilenceTimer();
        return;
      }
      turn.userMessage = { role: 'user', content: callerText };
      this.history.push(turn.userMessage);
      const llmStart = Date.now();
      const reply = await this.generate(turn.index);
      turn.reply = reply;
      if (turn.cancelled) {
        reply.cancel();
        return;
      }
      const utterance = this.beginUtterance();
      turn.utterance = utterance;
      const sentences = new SentenceStream();
      let generated = '';
      let spokenChunks = 0;
      for await (const piece of reply.pieces()) {
        if (turn.cancelled) break;
        latency.llmFirstTokenMs ??= Date.now() - llmStart;
        generated += piece;
        for (const sentence of sentences.push(piece)) {
          latency.firstSentenceMs ??= Date.now() - llmStart;
          this.say(utterance, sentence);
        }
        // The request's token limit has room for tool calls; the spoken words keep their own (a chunk is a token).
        if (++spokenChunks >= env.SOVREN_VOICE_AGENT_MAX_REPLY_TOKENS) {
          reply.cancel();
          break;
        }
      }
      if (turn.cancelled) return;
      for (const sentence of sentences.flush()) {
        latency.firstSentenceMs ??= Date.now() - llmStart;
        this.say(utterance, sentence);
      }
      await utterance.synthesised();
      await this.playedOut(utterance);
      if (turn.cancelled || utterance.cancelled) return;
      this.turn = null;
      this.speaking = null;
      const text = utterance.text || generated.trim();
      this.recordCaller(turn);
      this.finishAgentUtterance(turn.index, utterance, text, false);
      const calls = reply.final?.toolCalls ?? [];
      const actions = await this.act(calls);
      this.options.sink.turn({
        turn: turn.index,
        callerText,
        agentText: text,
        heardText: text,
        interrupted: false,
        latency: completeLatency(turn, utterance),
        ...(actions.length > 0 ? { actions } : {}),
      });
      this.options.sink.turnOutcome('answered');
      if (actions.some((a) => a.ok && a.name === 'hang_up')) this.options.hangup('agent_hangup');
      else this.armSilenceTimer();
    } catch (error) {
      if (turn.cancelled || this.closed) return;
      this.logger.error({
        msg: 'agent turn failed',
        callId: this.options.callId,
        turn: turn.index,
        err: errorMessage(error),
      });
      this.cancelTurn(turn);
      if (turn.callerText) this.recordCaller(turn);
      if (this.turn === turn) this.turn = null;
      if (this.speaking === turn.utterance) this.speaking = null;
      this.options.sink.turnOutcome('error');
      this.armSilenceTimer();
    }
  }

  /**
   * Starts the reply. The history budget is an estimate (characters, not the model's tokens): when the model says
   * the prompt is too long, older turns go until it fits (the latest message always stays).
   */
  private async generate(turnIndex: number): Promise<ReplyStream> {
    const { application, inference, models, env } = this.options;
    let budget = env.SOVREN_VOICE_AGENT_HISTORY_TOKENS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await inference.generate(historyWithin(this.system, this.history, budget), {
          ownerId: application.ownerId,
          requestId: `${this.options.callId}-llm-${turnIndex}-${randomUUID().slice(0, 8)}`,
          model: models.llm,
          // A tool call's JSON does not count against the spoken reply's length.
          maxTokens: env.SOVREN_VOICE_AGENT_MAX_REPLY_TOKENS + (this.tools.length > 0 ? TOOL_CALL_TOKENS : 0),
          tools: this.tools,
          ...(application.agentToolChoice === 'required' ? { toolChoice: 'required' as const } : {}),
        });
      } catch (error) {
        if (!(error instanceof AgentInferenceError) || error.code !== 'context_length_exceeded' || attempt === 4) {
          throw error;
        }
        budget = Math.floor(budget / 2);
        this.logger.warn({ msg: 'history over the model context; keeping less', callId: this.options.callId, budget });
      }
    }
  }

  /**
   * Carries out the reply's tool calls in order, after its words were heard: DTMF now, a transfer (the call ends
   * when it succeeds), and a hang-up left to the caller of this (after the turn is recorded). Calls of actions the
   * application does not allow, or with bad arguments, fail without effect.
   */
  private async act(calls: readonly InferenceToolCallV1[]): Promise<CallTurnActionV1[]> {
    const done: CallTurnActionV1[] = [];
    for (const call of calls) {
      if (this.closed) break;
      // Parallel calls may repeat one action word for word: it is done once.
      if (done.some((d) => d.name === call.name && d.arguments === call.arguments)) continue;
      let ok = false;
      try {
        const args = JSON.parse(call.arguments) as Record<string, unknown>;
        const allowed = this.tools.some((tool) => tool.name === call.name);
        if (allowed && call.name === 'hang_up') ok = true;
        else if (
          allowed &&
          call.name === 'send_dtmf' &&
          typeof args['digits'] === 'string' &&
          DTMF.test(args['digits'])
        ) {
          await this.options.media.sendDtmf(args['digits'].toUpperCase());
          ok = true;
        } else if (
          allowed &&
          call.name === 'transfer_call' &&
          this.options.application.transferNumbers.includes(String(args['number']))
        ) {
          ok = (await this.options.transfer(String(args['number']))) === 200;
        }
      } catch (error) {
        this.logger.warn({
          msg: 'agent action failed',
          callId: this.options.callId,
          action: call.name,
          err: errorMessage(error),
        });
      }
      if (!ok)
        this.logger.warn({
          msg: 'agent action refused or failed',
          callId: this.options.callId,
          action: call.name,
          arguments: call.arguments,
        });
      done.push({ name: call.name, arguments: call.arguments, ok });
    }
    return done;
  }

  private recordCaller(turn: Turn): void {
    this.options.sink.transcript({
      turn: turn.index,
      speaker: 'caller',
      text: turn.callerText,
      heardText: null,
      interrupted: false,
      startedAt: turn.callerStartedAt,
      endedAt: new Date(turn.speechEndAt),
      latency: null,
    });
  }

  private cancelTurn(turn: Turn): void {
    turn.cancelled = true;
    turn.reply?.cancel();
    if (turn.utterance) {
      turn.utterance.cancel();
      if (this.speaking === turn.utterance) {
        this.options.media.flushPlayback();
        this.speaking = null;
      }
    }
    if (this.turn === turn) this.turn = null;
  }

  /** Caller audio between two stream times (ms), at most the last 30 s of it. */
  private callerAudio(fromMs: number, toMs: number): Int16Array {
    const end = Math.min(this.samples, Math.round((toMs * CALLER_RATE) / 1000));
    const start = Math.max(
      Math.round((fromMs * CALLER_RATE) / 1000),
      end - MAX_UTTERANCE_SAMPLES,
      this.audio[0]?.start ?? 0,
    );
    if (end <= start) return new Int16Array(0);
    const out = new Int16Array(end - start);
    for (const chunk of this.audio) {
      const from = Math.max(start, chunk.start);
      const to = Math.min(end, chunk.start + chunk.pcm.length);
      if (to > from) out.set(chunk.pcm.subarray(from - chunk.start, to - chunk.start), from - start);
    }
    return out;
  }

  // ---- agent speech ----

  /** A new agent utterance; the previous one is over, and the play counter starts from zero for this one. */
  private beginUtterance(): Utterance {
    this.speaking?.cancel();
    this.options.media.flushPlayback();
    const utterance = new Utterance(new Date());
    this.speaking = utterance;
    return utterance;
  }

  private say(utterance: Utterance, text: string): void {
    const { application, inference, models, media } = this.options;
    utterance.say(
      text,
      (piece) =>
        inference.synthesize(piece, {
          requestId: `${this.options.callId}-tts-${randomUUID()}`,
          ownerId: application.ownerId,
          model: models.tts,
          voice: models.voice,
          sampleRate: AGENT_RATE,
        }),
      (pcm) => {
        if (this.closed || utterance.cancelled) return;
        const first = utterance.firstAudioOnWireAt === null && media.playbackQueuedMs === 0;
        media.play(pcm, AGENT_RATE);
        if (first) media.once('agentFrame8k', () => (utterance.firstAudioOnWireAt ??= Date.now()));
      },
    );
  }

  /** Resolves when the utterance's audio has all gone out (or it was cancelled, or the call ended). */
  private playedOut(utterance: Utterance): Promise<void> {
    const media = this.options.media;
    return new Promise((resolve) => {
      const check = () => {
        if (!utterance.cancelled && !this.closed && media.playbackQueuedMs > 0) return;
        media.off('agentFrame8k', check);
        media.off('closed', check);
        resolve();
      };
      media.on('agentFrame8k', check);
      media.once('closed', check);
      check();
    });
  }

  /** The greeting, the silence prompt or the goodbye: fixed text, spoken like a reply. */
  private async speakFixed(text: string, kind: 'greeting' | 'prompt' | 'goodbye'): Promise<void> {
    if (this.closed) return;
    const utterance = this.beginUtterance();
    const sentences = new SentenceStream();
    for (const sentence of [...sentences.push(text), ...sentences.flush()]) this.say(utterance, sentence);
    try {
      await utterance.synthesised();
      await this.playedOut(utterance);
    } catch (error) {
      this.logger.error({ msg: `agent ${kind} failed`, callId: this.options.callId, err: errorMessage(error) });
    }
    if (utterance.cancelled || this.closed) return;
    if (this.speaking === utterance) this.speaking = null;
    this.finishAgentUtterance(this.turnIndex, utterance, utterance.text, false);
    if (kind === 'goodbye') this.options.hangup('agent_silence');
    else this.armSilenceTimer();
  }

  /** Records an agent utterance and puts what the caller heard of it in the history. */
  private finishAgentUtterance(turn: number, utterance: Utterance, heard: string, interrupted: boolean): void {
    if (heard.length > 0) this.history.push({ role: 'assistant', content: heard });
    const text = utterance.text;
    if (text.length === 0) return;
    this.options.sink.transcript({
      turn,
      speaker: 'agent',
      text,
      heardText: heard,
      interrupted,
      startedAt: utterance.startedAt,
      endedAt: new Date(),
      latency: null,
    });
  }

  // ---- silence ----

  private armSilenceTimer(): void {
    this.clearSilenceTimer();
    const seconds = this.options.env.SOVREN_VOICE_AGENT_SILENCE_PROMPT_S;
    if (this.closed || seconds === 0 || this.endpointer.inSpeech) return;
    this.silenceTimer = setTimeout(() => {
      this.silenceTimer = null;
      if (this.closed || this.turn || this.speaking || this.endpointer.inSpeech) return;
      this.silencePrompts++;
      const env = this.options.env;
      if (this.silencePrompts === 1) void this.speakFixed(env.SOVREN_VOICE_AGENT_SILENCE_PROMPT, 'prompt');
      else void this.speakFixed(env.SOVREN_VOICE_AGENT_GOODBYE, 'goodbye');
    }, seconds * 1000);
    this.silenceTimer.unref();
  }

  private clearSilenceTimer(): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = null;
  }
}
