// The part of the engine the scheduler drives: sequences with their own sampler, and one batched forward step
// over many sequences. EngineModel / EngineSequence from @sovren/engine provide it (the CPU backend today, the
// CUDA backend next), so the scheduler never depends on where the step runs.
import type {
  BatchEntryResult as EngineBatchEntryResult,
  SamplerSettings as EngineSamplerSettings,
  TokenIds,
} from '@sovren/engine';

/** A token id and its log probability (natural log of the raw model distribution). */
export interface TokenLogprobPair {
  token: number;
  logprob: number;
}

/** The engine's sampler settings with the issue-21 contract fields (grammar, logit bias, logprobs). */
export type SamplerSettings = EngineSamplerSettings & {
  /** GBNF text (root rule `root`) the sampled tokens must follow. */
  grammar?: string;
  /** Token id → bias added to its logit (-100 ≈ ban). */
  logitBias?: Record<number, number>;
  /** 0..20: report the chosen token's logprob and this many alternatives. */
  logprobs?: number;
};

/** The engine's step result with the contract's logprob fields (present when the sampler asked for logprobs). */
export type BatchEntryResult = EngineBatchEntryResult & {
  logprob?: number;
  topLogprobs?: TokenLogprobPair[];
};

export interface BatchSequence {
  readonly position: number;
  readonly contextSize: number;
  setSampler(settings: SamplerSettings): void;
  reset(): void;
  close(): void;
  /** A copy with the same tokens and KV contents (choices of one prompt share its evaluation); optional. */
  fork?(): this;
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
