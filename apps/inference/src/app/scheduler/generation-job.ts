// One request as the scheduler sees it: the prompt tokens, limits and sampler, where it stands (queued, prompt
// being fed in chunks, decoding), the text generated so far (stop strings applied) and the callbacks that carry
// each piece of text and the outcome back to the HTTP or NATS edge.
import type { SamplerSettings, TokenLogprobPair } from './batch-engine.port';
import { StopMatcher } from './stop-matcher';

/** `timeout`: the request's deadline passed; `error`: the engine failed (see JobOutcome.error). */
export type JobFinishReason = 'stop' | 'length' | 'cancelled' | 'timeout' | 'error';

export interface GenerationJobInput {
  requestId: string;
  promptTokens: readonly number[];
  /** Tokens to generate at most (already checked against the sequence's context). */
  maxTokens: number;
  sampler: SamplerSettings;
  stop: readonly string[];
  /** Epoch ms after which the request is ended with what it has. */
  deadline: number;
  /**
   * Another choice of the same prompt (OpenAI's `n`): this job waits until that one has fed all but the last
   * prompt token, then continues on a fork of its sequence, so the prompt is evaluated once.
   */
  forkOf?: GenerationJob;
}

/** A sampled token's log probability and the best alternatives (when the sampler asked for logprobs). */
export interface TokenLogprob {
  token: number;
  logprob: number;
  top: TokenLogprobPair[];
}

export interface JobOutcome {
  finishReason: JobFinishReason;
  /** The whole generated text (stop string excluded). */
  text: string;
  /** Prompt tokens fed to the model (all of them unless the request ended while queued or mid-prompt). */
  promptTokens: number;
  /** Of those, the ones restored from the prefix cache rather than evaluated. */
  cachedPromptTokens: number;
  completionTokens: number;
  queueMs: number;
  timeToFirstTokenMs?: number;
  durationMs: number;
  error?: Error;
  /** The emitted tokens' log probabilities, in order (only when the sampler asked for logprobs). */
  logprobs?: TokenLogprob[];
}

export interface JobListener {
  /** New text, in order; never part of a stop string. `logprobs`: of the tokens that completed this text. */
  onText(delta: string, logprobs?: readonly TokenLogprob[]): void;
  /** Called exactly once. */
  onFinish(outcome: JobOutcome): void;
}

export type JobPhase = 'queued' | 'prompt' | 'decode' | 'done';

export class GenerationJob {
  phase: JobPhase = 'queued';
  /** Prompt tokens already fed to the sequence. */
  promptOffset = 0;
  /** Prompt tokens restored from the prefix cache instead of being fed (counted in promptOffset too). */
  cachedPromptTokens = 0;
  /** The last sampled token: the next decode step's input. */
  lastToken = -1;
  completionTokens = 0;
  readonly acceptedAt = Date.now();
  startedAt: number | undefined;
  firstTokenAt: number | undefined;
  lastTokenAt: number | undefined;
  private cancelRequested = false;
  private text = '';
  /** Logprobs of tokens whose text is not emitted yet (held by the stop matcher or an incomplete character). */
  private pendingLogprobs: TokenLogprob[] = [];
  private emittedLogprobs: TokenLogprob[] | undefined;
  private readonly stops: StopMatcher;
  /** Set by the scheduler so a cancel wakes an idle loop. */
  onCancel: (() => void) | undefined;

  constructor(
    readonly input: GenerationJobInput,
    private readonly listener: JobListener,
  ) {
    this.stops = new StopMatcher(input.stop);
  }

  get cancelled(): boolean {
    return this.cancelRequested;
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  /** Asks the scheduler to drop this request before its next step (a disconnect, a NATS cancel). */
  cancel(): void {
    if (this.cancelRequested || this.done) return;
    this.cancelRequested = true;
    this.onCancel?.();
  }

  /** Records a sampled token's logprobs; they travel with the text the token completes. */
  pushLogprob(entry: TokenLogprob): void {
    this.pendingLogprobs.push(entry);
  }

  /** Applies the stop strings to a token's text; returns true when a stop string ended the generation. */
  pushText(text: string): boolean {
    const match = this.stops.push(text);
    this.emit(match.emit);
    return match.stopped;
  }

  finish(finishReason: JobFinishReason, error?: Error): void {
    if (this.done) return;
    // After a matched stop string nothing is held; otherwise the held text was not a stop string after all.
    this.emit(this.stops.flush());
    this.phase = 'done';
    const now = Date.now();
    const outcome: JobOutcome = {
      finishReason,
      text: this.text,
      // Prompt tokens actually processed: a request cancelled while queued used none.
      promptTokens: this.promptOffset,
      cachedPromptTokens: this.cachedPromptTokens,
      completionTokens: this.completionTokens,
      queueMs: (this.startedAt ?? now) - this.acceptedAt,
      durationMs: now - this.acceptedAt,
    };
    if (this.firstTokenAt !== undefined) outcome.timeToFirstTokenMs = this.firstTokenAt - this.acceptedAt;
    if (error) outcome.error = error;
    if (this.emittedLogprobs) outcome.logprobs = this.emittedLogprobs;
    this.listener.onFinish(outcome);
  }

  private emit(delta: string): void {
    if (delta === '') return;
    this.text += delta;
    if (this.pendingLogprobs.length > 0 || this.emittedLogprobs) {
      // Tokens held back and then cut as a stop string are never emitted: their logprobs stay behind too.
      const logprobs = this.pendingLogprobs;
      this.pendingLogprobs = [];
      (this.emittedLogprobs ??= []).push(...logprobs);
      this.listener.onText(delta, logprobs);
    } else this.listener.onText(delta);
  }
}
