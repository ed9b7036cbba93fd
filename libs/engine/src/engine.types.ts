// The types of @sovren/engine's API: model loading options, model info, tokenizer options, sampling and generation
// parameters, batched-step entries and results (what EngineModel and EngineSequence in engine.ts take and return).
import type { EngineSequence } from './engine';

export interface LoadModelOptions {
  /** Compute threads; 0 or absent: one per online core. */
  threads?: number;
  /** Context size of every sequence; 0 or absent: min(training context, 4096). */
  contextSize?: number;
  /**
   * Where weights are read from: 'copy' (default) copies them once at load into huge-page memory (several times
   * faster generation on VMs, costs the weights' size in RAM); 'mmap' reads them in place from the file mapping.
   * Ignored on the GPU, which uploads them once from the mapping.
   */
  weights?: WeightStorage;
  /**
   * Compute backend: 'cpu', 'cuda' (llama-family models on GPU 0; a load error where it cannot run) or 'auto' (the
   * CPU until the CUDA path is verified on a GPU). Absent: $SOVREN_ENGINE_BACKEND, else 'auto'. ModelInfo.backend says
   * which one the model runs on.
   */
  backend?: EngineBackendRequest;
  /**
   * On the GPU: tokens the paged KV cache holds for all of the model's sequences together (blocks of 16 are taken as
   * sequences grow and given back on reset / close). 0 or absent: 64 full contexts, at most 90 % of the GPU memory the
   * weights leave. Ignored on the CPU, where each sequence allocates its own context.
   */
  kvCacheTokens?: number;
}

export type EngineBackendRequest = 'cpu' | 'cuda' | 'auto';

export type WeightStorage = 'copy' | 'mmap';

export interface TensorTypeCount {
  tensors: number;
  elements: number;
}

export interface SpecialTokens {
  bos: number | null;
  eos: number | null;
  unk: number | null;
  pad: number | null;
  eot: number | null;
  /** Every id that ends generation. */
  eog: number[];
  addBos: boolean;
  addEos: boolean;
}

/** 'text': a llama-family decoder (generation, and embeddings from its hidden states); 'embedding': an encoder. */
export type ModelKind = 'text' | 'embedding';

/** How hidden states become one embedding: their mean, the first ([CLS]) or the last token's. */
export type EmbeddingPooling = 'mean' | 'cls' | 'last';

export interface EmbedOptions {
  /** Default: the model's own (`ModelInfo.pooling`: the GGUF pooling_type for encoders, 'last' for decoders). */
  pooling?: EmbeddingPooling;
  /** Scale each vector to unit L2 length (default true). */
  normalize?: boolean;
}

export interface ModelInfo {
  name: string;
  architecture: string;
  /** 'embedding' models (bert, nomic-bert) only embed: they have no sequences and generate nothing. */
  kind: ModelKind;
  /** The pooling embed() uses when none is asked for. */
  pooling: EmbeddingPooling;
  parameterCount: number;
  weightBytes: number;
  fileBytes: number;
  contextSize: number;
  trainingContextSize: number;
  embeddingLength: number;
  blockCount: number;
  feedForwardLength: number;
  headCount: number;
  headCountKv: number;
  headDim: number;
  ropeDimensionCount: number;
  ropeFreqBase: number;
  ropeFreqScale: number;
  /** The RMS norm epsilon (decoders) or LayerNorm epsilon (encoders). */
  rmsEpsilon: number;
  vocabSize: number;
  /** "llama" (SentencePiece), "gpt2" (byte-level BPE) or "bert" (WordPiece). */
  tokenizerModel: string;
  chatTemplate: string | null;
  /**
   * The compute backend it runs on ("cpu-avx2", ..., or "cuda"), chosen by SOVREN_ENGINE_BACKEND: cpu | cuda | auto
   * (auto: the CPU until the device forward pass is verified on a GPU).
   */
  backend: string;
  threads: number;
  /** Where the weights are read from (see LoadModelOptions.weights). */
  weights: WeightStorage;
  /** Bytes of memory holding the weight copy; 0 with weights 'mmap' and on the GPU. */
  weightCopyBytes: number;
  /** Bytes the model holds on its GPU (weights, paged KV cache, scratch); 0 on the CPU. Optional: older addons. */
  deviceBytes?: number;
  /** Tensor count and elements per GGUF type name ("F32", "Q4_K", ...). */
  tensorTypes: Record<string, TensorTypeCount>;
  specialTokens: SpecialTokens;
}

export interface TokenizeOptions {
  /** Add BOS/EOS as the model asks (default true). */
  addSpecial?: boolean;
  /** Turn special-token texts such as "<|eot_id|>" into their ids (default false). */
  parseSpecial?: boolean;
}

/** A piece of text for tokenizeSegments; special-token texts become their ids only where parseSpecial is true. */
export interface TextSegment {
  text: string;
  parseSpecial: boolean;
}

export interface DetokenizeOptions {
  /** Render control tokens as their text (default false). */
  renderSpecial?: boolean;
}

export type TokenIds = readonly number[] | Int32Array | Uint32Array;

export type GenerationInput =
  | {
      text: string;
      /** Default: true when the sequence is empty (BOS starts a conversation only). */
      addSpecial?: boolean;
      /** Default: true, so chat-template markers become their special tokens. */
      parseSpecial?: boolean;
    }
  | { tokens: TokenIds };

/** Sampling settings: of one generate() call (GenerationParams) or of one sequence's steps (setSampler). */
export interface SamplerSettings {
  /** 0 = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  penaltyLastN?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** Seed of the sampler's random generator: the same seed, prompt and params give the same tokens. */
  seed?: number;
  /**
   * Token id -> bias added to the logit (after penalties) before sampling; -100 practically bans a token (OpenAI
   * semantics). An id outside the vocabulary throws a RangeError naming it.
   */
  logitBias?: Record<number, number>;
  /**
   * GBNF grammar text (llama.cpp syntax, root rule `root`): only tokens the grammar allows are sampled, and
   * end-of-generation only where it is complete. An invalid grammar throws an Error naming the line and column
   * (setSampler) or rejects (generate). setSampler() with a grammar starts it from the beginning.
   */
  grammar?: string;
  /**
   * 0..20: every sampled token reports its logprob and the top-N alternatives — log-softmax of the raw model
   * logits (before temperature, penalties, bias and grammar), natural log; a token of probability 0 reports -9999.
   */
  logprobs?: number;
}

/** One alternative of a sampled token. */
export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** Present on step results and generation steps when the sampler asked for logprobs. */
export interface SampledLogprobs {
  /** Logprob of the sampled token. */
  logprob?: number;
  /** The N most likely tokens, descending (ties to the lower id); N = SamplerSettings.logprobs. */
  topLogprobs?: TokenLogprob[];
}

export interface GenerationParams extends SamplerSettings {
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  /** Ids that end generation like the model's end-of-generation tokens (not included in the output). */
  stopTokenIds?: readonly number[];
  /** Aborting cancels the generation, which then resolves with finishReason 'cancelled'. */
  signal?: AbortSignal;
}

export interface CreateSequenceOptions {
  /** KV-cache size of this sequence, 1..the model's context size (default: the model's context size). */
  contextSize?: number;
}

export interface BatchEntry {
  sequence: EngineSequence;
  /** Tokens appended at the sequence's current position: a prompt chunk, or the token sampled last step. */
  tokens: TokenIds;
  /** Sample the next token from the logits of this entry's last token with the sequence's sampler. */
  sample: boolean;
}

export interface BatchEntryResult extends SampledLogprobs {
  /** The sampled token id, or -1 when `sample` was false. */
  token: number;
  /**
   * UTF-8 text this token completes (incremental detokenisation kept per sequence; '' while a character is
   * incomplete; '' for end-of-generation tokens).
   */
  text: string;
  /** The sampled token is one of the model's end-of-generation tokens (EOS/EOT). */
  endOfGeneration: boolean;
}

export interface GenerationStep extends SampledLogprobs {
  id: number;
  /** Complete UTF-8 text this token finishes (empty while a multi-byte character is incomplete). */
  text: string;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GenerationTimings {
  promptMs: number;
  generationMs: number;
  promptTokensPerSecond: number;
  generationTokensPerSecond: number;
}

export interface GenerationResult {
  /** Generated ids, without the token that stopped generation. */
  ids: number[];
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  timings: GenerationTimings;
}

// Shapes of the objects the addon returns (see native/src/binding/).
