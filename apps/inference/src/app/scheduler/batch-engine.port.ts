// The part of the engine the scheduler drives: sequences with their own sampler, and one batched forward step
// over many sequences. EngineModel / EngineSequence from @sovren/engine provide it (the CPU backend today, the
// CUDA backend next), so the scheduler never depends on where the step runs.
import type { BatchEntryResult, SamplerSettings, TokenIds, TokenLogprob } from '@sovren/engine';

export type { BatchEntryResult, SamplerSettings };

/** A token id and its log probability (natural log of the raw model distribution). */
export type TokenLogprobPair = TokenLogprob;

export interface BatchSequence {
  readonly position: number;
  readonly contextSize: number;
  /** Bytes its KV cache holds. */
  readonly cacheBytes: number;
  setSampler(settings: SamplerSettings): void;
  reset(): void;
  close(): void;
  /** A copy with the same tokens and KV contents (choices of one prompt share its evaluation); optional. */
  fork?(): this;
  /**
   * Becomes the first tokens.length tokens of `source` (KV rows copied, not evaluated; the tokens enter the
   * penalty history): how the prefix cache restores a prompt's cached prefix. Call after setSampler().
   */
  copyPrefix(source: this, tokens: TokenIds): void;
}

export interface BatchEntryOf<S extends BatchSequence> {
  sequence: S;
  tokens: TokenIds;
  sample: boolean;
}

export interface BatchModel<S extends BatchSequence = BatchSequence> {
  createSequence(options?: { contextSize?: number }): S;
  step(entries: readonly BatchEntryOf<S>[]): Promise<BatchEntryResult[]>;
}
