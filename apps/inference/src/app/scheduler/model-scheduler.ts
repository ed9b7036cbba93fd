// Continuous batching for one loaded model. A loop runs while there is work: between two engine steps it drops
// requests that were cancelled or ran out of time, admits queued requests into free sequences (a pool of at most
// maxSequences, created on demand and reused after reset()), gives every decoding sequence its next token and
// spends a per-step prompt budget on prompt chunks — so a long prompt never stalls the other streams — then runs
// one batched step and hands each result to its request. A request whose prompt starts like one seen before starts
// from the prefix cache's copy of that prefix (prefix-cache.ts) and feeds only the rest.
import { Logger } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';

import type { BatchEntryOf, BatchEntryResult, BatchModel, BatchSequence } from './batch-engine.port';
import { GenerationJob, type JobFinishReason } from './generation-job';
import { PrefixCache, type PrefixCacheOptions } from './prefix-cache';

export interface SchedulerOptions {
  /** Model id, for logs and metric labels. */
  model: string;
  maxSequences: number;
  /** Tokens per sequence; 0: the engine's default for the model. */
  sequenceContext: number;
  /** Requests that may wait beyond the free sequences. */
  maxQueue: number;
  /** Prompt tokens fed per step, over all sequences. */
  promptChunk: number;
  /** Prompt-prefix cache; absent or a budget of 0: every prompt is fed whole. */
  prefixCache?: PrefixCacheOptions;
}

/** What the scheduler reports after each step (metrics, tests). */
export interface SchedulerObserver {
  onStep(stats: { seconds: number; sequences: number; promptTokens: number; generatedTokens: number }): void;
  onToken(job: GenerationJob, now: number, previous: number | undefined): void;
  onState(state: { queued: number; active: number; usedPositions: number; totalPositions: number }): void;
  /** After each prefix-cache lookup (`hitTokens` 0: a miss) and each change of what it holds. */
  onPrefixCache?(event: { lookup?: { hitTokens: number }; bytes: number; entries: number }): void;
}

export class QueueFullError extends Error {
  constructor(
    readonly model: string,
    readonly waiting: number,
  ) {
    super(`model ${model} is at capacity (${waiting} requests waiting); retry shortly`);
    this.name = 'QueueFullError';
  }
}

export class SchedulerClosedError extends Error {
  constructor(readonly model: string) {
    super(`model ${model} is being unloaded`);
    this.name = 'SchedulerClosedError';
  }
}

interface Slot<S extends BatchSequence> {
  sequence: S;
  job: GenerationJob;
}

interface PlannedEntry<S extends BatchSequence> {
  slot: Slot<S>;
  entry: BatchEntryOf<S>;
  /** Prompt tokens in this entry (0 for a decode entry). */
  promptTokens: number;
}

export class ModelScheduler<S extends BatchSequence = BatchSequence> {
  private readonly logger: Logger;
  private readonly queue: GenerationJob[] = [];
  /** Choices waiting for their leader's prompt, to fork its sequence (see GenerationJobInput.forkOf). */
  private readonly forkWaiting: GenerationJob[] = [];
  private readonly slots: Slot<S>[] = [];
  private readonly free: S[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private loop: Promise<void> | undefined;
  /** Cleared by the loop in the same tick it decides to stop, so a submit right after starts a new loop. */
  private running = false;
  private lastUsed = Date.now();
  private readonly prefixCache: PrefixCache<S>;
  /** The largest number of sequences one step has carried (observability and tests). */
  maxStepSequences = 0;
  steps = 0;

  constructor(
    private readonly engine: BatchModel<S>,
    private readonly options: SchedulerOptions,
    private readonly observer: SchedulerObserver,
  ) {
    this.logger = new Logger(`Scheduler:${options.model}`);
    this.prefixCache = new PrefixCache<S>(options.prefixCache ?? { budgetBytes: 0, blockTokens: 1 }, (tokens) =>
      engine.createSequence({ contextSize: tokens }),
    );
  }

  get queued(): number {
    return this.queue.length + this.forkWaiting.length;
  }

  get active(): number {
    return this.slots.length;
  }

  /** No request waiting or running. */
  get idle(): boolean {
    return this.queued === 0 && this.slots.length === 0;
  }

  /** Epoch ms of the last submit or finished request. */
  get lastActivity(): number {
    return this.lastUsed;
  }

  /** Queues a request; throws QueueFullError when the queue is full, SchedulerClosedError while unloading. */
  submit(job: GenerationJob): void {
    if (this.closed) throw new SchedulerClosedError(this.options.model);
    const freeSlots = this.options.maxSequences - this.slots.length;
    if (this.queued >= this.options.maxQueue + Math.max(0, freeSlots)) {
      throw new QueueFullError(this.options.model, this.queued);
    }
    this.lastUsed = Date.now();
    job.onCancel = () => this.wakeUp();
    if (job.input.forkOf) this.forkWaiting.push(job);
    else this.queue.push(job);
    this.publishState();
    this.wakeUp();
    if (!this.running) {
      this.running = true;
      this.loop = this.run().catch((error: unknown) => {
        this.running = false;
        this.failEverything(error);
      });
    }
  }

  /** Ends every request (finish reason `error`), waits for a running step, frees the sequences. */
  async close(): Promise<void> {
    this.closed = true;
    const reason = new SchedulerClosedError(this.options.model);
    for (const job of this.queue.splice(0)) job.finish('error', reason);
    for (const job of this.forkWaiting.splice(0)) job.finish('error', reason);
    for (const slot of this.slots) slot.job.cancel();
    this.wakeUp();
    await this.loop;
    for (const sequence of this.free.splice(0)) sequence.close();
    this.prefixCache.clear();
    this.publishPrefixCache();
    this.publishState();
  }

  /** The loop itself broke (a bug, not an engine error): end every request rather than leave them hanging. */
  private failEverything(error: unknown): void {
    this.logger.error({ msg: 'scheduler loop failed; ending every request', err: errorMessage(error) });
    const failure = error instanceof Error ? error : new Error(String(error));
    for (const slot of [...this.slots]) this.release(slot, 'error', failure);
    for (const job of this.queue.splice(0)) this.safely(() => job.finish('error', failure));
    for (const job of this.forkWaiting.splice(0)) this.safely(() => job.finish('error', failure));
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    for (;;) {
      this.dropFinished(Date.now());
      if (this.closed && this.slots.length === 0) {
        this.running = false;
        return;
      }
      this.admit();
      this.forkChoices();
      const plan = this.plan();
      this.publishState();
      if (plan.length === 0) {
        if (this.queued === 0 && this.slots.length === 0) {
          this.running = false;
          return;
        }
        // Only possible while the queue waits for a sequence that could not be created: wait for a change.
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, 100).unref();
        });
        continue;
      }
      await this.step(plan);
    }
  }

  /** Removes cancelled and expired requests, queued or running. */
  private dropFinished(now: number): void {
    for (const list of [this.queue, this.forkWaiting]) {
      for (let i = list.length - 1; i >= 0; i--) {
        const job = list[i];
        const reason = this.endReason(job, now);
        if (reason) {
          list.splice(i, 1);
          job.finish(reason);
        }
      }
    }
    for (const slot of [...this.slots]) {
      const reason = slot.job.done ? 'stop' : this.endReason(slot.job, now);
      if (reason) this.release(slot, reason);
    }
  }

  private endReason(job: GenerationJob, now: number): JobFinishReason | undefined {
    if (job.cancelled || this.closed) return 'cancelled';
    if (now >= job.input.deadline) return 'timeout';
    return undefined;
  }

  private admit(): void {
    while (this.slots.length < this.options.maxSequences) {
      const job = this.queue[0];
      if (!job) return;
      let sequence: S;
      try {
        sequence = this.acquire();
      } catch (error) {
        // Typically out of memory for another KV cache: serve with the sequences we have.
        this.logger.error({
          msg: 'cannot create another sequence; the batch stays at its current size',
          active: this.slots.length,
          err: errorMessage(error),
        });
        if (this.slots.length === 0) {
          this.queue.shift();
          job.finish('error', error instanceof Error ? error : new Error(String(error)));
        }
        return;
      }
      this.queue.shift();
      try {
        sequence.reset();
        sequence.setSampler(job.input.sampler);
      } catch (error) {
        this.free.push(sequence);
        job.finish('error', error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      job.phase = 'prompt';
      job.startedAt = Date.now();
      this.restorePrefix(sequence, job);
      this.slots.push({ sequence, job });
    }
  }

  /** Starts the job's sequence from the longest cached prefix of its prompt, if any. */
  private restorePrefix(sequence: S, job: GenerationJob): void {
    if (!this.prefixCache.enabled) return;
    const hit = this.prefixCache.lookup(job.input.promptTokens);
    if (hit) {
      try {
        sequence.copyPrefix(hit.source, job.input.promptTokens.slice(0, hit.tokens));
        job.promptOffset = hit.tokens;
        job.cachedPromptTokens = hit.tokens;
      } catch (error) {
        // copyPrefix changes nothing when it throws: the prompt is simply fed whole.
        this.logger.warn({ msg: 'cannot restore a cached prompt prefix; feeding it', err: errorMessage(error) });
      }
    }
    this.publishPrefixCache({ hitTokens: job.cachedPromptTokens });
  }

  /** Caches the prompt the slot's sequence has just finished feeding. */
  private rememberPrompt(slot: Slot<S>): void {
    if (!this.prefixCache.enabled) return;
    try {
      this.prefixCache.insert(slot.job.input.promptTokens, slot.sequence);
    } catch (error) {
      // Typically out of memory for the snapshot: the request goes on, later prompts miss.
      this.logger.warn({ msg: 'cannot cache a prompt prefix', err: errorMessage(error) });
    }
    this.publishPrefixCache();
  }

  private publishPrefixCache(lookup?: { hitTokens: number }): void {
    this.observer.onPrefixCache?.({
      ...(lookup ? { lookup } : {}),
      bytes: this.prefixCache.bytes,
      entries: this.prefixCache.entries,
    });
  }

  /**
   * Choices waiting for a leader: once the leader has fed all but its last prompt token, each continues on a fork
   * of the leader's sequence (the last token is fed by every choice, which then samples with its own seed). When
   * that cannot be (no fork in this engine, no free sequence, the leader gone or already past), the choice joins
   * the queue and feeds the prompt itself: slower, same result.
   */
  private forkChoices(): void {
    for (const job of [...this.forkWaiting]) {
      const leader = job.input.forkOf;
      if (!leader) continue;
      const slot = this.slots.find((s) => s.job === leader);
      if (!slot && leader.phase === 'queued' && !leader.cancelled) continue;
      const shared = job.input.promptTokens.length - 1;
      if (slot && leader.phase === 'prompt' && leader.promptOffset < shared) continue;
      this.forkWaiting.splice(this.forkWaiting.indexOf(job), 1);
      const sequence =
        slot && leader.promptOffset === shared && leader.phase === 'prompt' ? this.fork(slot, job) : undefined;
      if (!sequence) {
        this.queue.push(job);
        continue;
      }
      job.phase = 'prompt';
      job.promptOffset = shared;
      job.startedAt = Date.now();
      this.slots.push({ sequence, job });
    }
  }

  private fork(leader: Slot<S>, job: GenerationJob): S | undefined {
    if (this.slots.length >= this.options.maxSequences || typeof leader.sequence.fork !== 'function') return undefined;
    let sequence: S | undefined;
    try {
      // The fork is a new sequence: an idle pooled one goes, so the pool never holds more than maxSequences.
      this.free.pop()?.close();
      sequence = leader.sequence.fork();
      sequence.setSampler(job.input.sampler);
      return sequence;
    } catch (error) {
      this.logger.warn({
        msg: 'cannot fork a sequence for another choice; it feeds the prompt itself',
        err: errorMessage(error),
      });
      sequence?.close();
      return undefined;
    }
  }

  private acquire(): S {
    const reused = this.free.pop();
    if (reused) return reused;
    const options = this.options.sequenceContext > 0 ? { contextSize: this.options.sequenceContext } : undefined;
    return this.engine.createSequence(options);
  }

  /** Decode entries first (one token each), then prompt chunks within the step's prompt budget, oldest first. */
  private plan(): PlannedEntry<S>[] {
    const planned: PlannedEntry<S>[] = [];
    for (const slot of this.slots) {
      if (slot.job.phase === 'decode') {
        planned.push({
          slot,
          entry: { sequence: slot.sequence, tokens: [slot.job.lastToken], sample: true },
          promptTokens: 0,
        });
      }
    }
    let budget = this.options.promptChunk;
    for (const slot of this.slots) {
      if (budget <= 0) break;
      const job = slot.job;
      if (job.phase !== 'prompt') continue;
      const prompt = job.input.promptTokens;
      // A leader whose other choices wait to fork stops before its last prompt token (they all feed that one).
      const end = this.forkWaiting.some((f) => f.input.forkOf === job) ? prompt.length - 1 : prompt.length;
      const n = Math.min(budget, end - job.promptOffset);
      if (n <= 0) continue;
      const tokens = prompt.slice(job.promptOffset, job.promptOffset + n);
      const last = job.promptOffset + n === prompt.length;
      planned.push({ slot, entry: { sequence: slot.sequence, tokens, sample: last }, promptTokens: n });
      budget -= n;
    }
    return planned;
  }

  private async step(plan: PlannedEntry<S>[]): Promise<void> {
    const started = process.hrtime.bigint();
    let results: BatchEntryResult[];
    try {
      results = await this.engine.step(plan.map((p) => p.entry));
    } catch (error) {
      this.logger.error({
        msg: 'batched step failed; ending its requests',
        sequences: plan.length,
        err: errorMessage(error),
      });
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const { slot } of plan) this.release(slot, 'error', failure);
      return;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.steps += 1;
    this.maxStepSequences = Math.max(this.maxStepSequences, plan.length);
    const now = Date.now();
    let promptTokens = 0;
    let generated = 0;
    const promptsFed: Slot<S>[] = [];
    plan.forEach((planned, index) => {
      const { slot } = planned;
      const job = slot.job;
      promptTokens += planned.promptTokens;
      if (job.done || job.cancelled) return;
      if (planned.promptTokens > 0) {
        job.promptOffset += planned.promptTokens;
        if (job.promptOffset === job.input.promptTokens.length) promptsFed.push(slot);
      }
      if (!planned.entry.sample) return;
      const result = results[index];
      if (result.endOfGeneration) {
        this.release(slot, 'stop');
        return;
      }
      generated += 1;
      job.phase = 'decode';
      job.completionTokens += 1;
      job.lastToken = result.token;
      if (result.logprob !== undefined) {
        job.pushLogprob({ token: result.token, logprob: result.logprob, top: result.topLogprobs ?? [] });
      }
      this.observer.onToken(job, now, job.lastTokenAt);
      job.firstTokenAt ??= now;
      job.lastTokenAt = now;
      if (this.safely(() => job.pushText(result.text))) this.release(slot, 'stop');
      else if (job.completionTokens >= job.input.maxTokens) this.release(slot, 'length');
      else if (slot.sequence.position + 1 > slot.sequence.contextSize) this.release(slot, 'length');
    });
    this.observer.onStep({ seconds, sequences: plan.length, promptTokens, generatedTokens: generated });
    // After the first tokens went out: copying a prompt's KV must not delay them. A sequence released in this step
    // still holds its prompt (it is reset only when a request is admitted to it, which happens after this).
    for (const slot of promptsFed) this.rememberPrompt(slot);
  }

  /** Ends the slot's request and returns its sequence to the pool. */
  private release(slot: Slot<S>, reason: JobFinishReason, error?: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    this.free.push(slot.sequence);
    this.lastUsed = Date.now();
    this.safely(() => slot.job.finish(reason, error));
  }

  /** A listener that throws must not stop the loop that serves every other request. */
  private safely(fn: () => boolean | void): boolean {
    try {
      return fn() === true;
    } catch (error) {
      this.logger.error({ msg: 'request listener failed', err: errorMessage(error) });
      return false;
    }
  }

  private publishState(): void {
    let used = 0;
    for (const slot of this.slots) used += slot.sequence.position;
    const perSequence =
      this.slots[0]?.sequence.contextSize ?? this.free[0]?.contextSize ?? this.options.sequenceContext;
    this.observer.onState({
      queued: this.queued,
      active: this.slots.length,
      usedPositions: used,
      totalPositions: perSequence * this.options.maxSequences,
    });
  }
}
