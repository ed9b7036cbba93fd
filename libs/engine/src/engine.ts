// TypeScript face of the native inference engine: finds and loads `sovren_engine.node`, and wraps its Model and
// Sequence objects in typed classes. Generation runs on a native thread; the event loop stays free meanwhile.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import type {
  LoadModelOptions,
  ModelInfo,
  TokenizeOptions,
  TextSegment,
  DetokenizeOptions,
  TokenIds,
  GenerationInput,
  SamplerSettings,
  GenerationParams,
  CreateSequenceOptions,
  BatchEntry,
  BatchEntryResult,
  GenerationStep,
  FinishReason,
  GenerationResult,
  EmbedOptions,
} from './engine.types';

interface NativeGenerationResult {
  ids: number[];
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  promptMs: number;
  generationMs: number;
}

interface NativeSequence {
  evaluate(ids: TokenIds, options: { allLogits: boolean }): Float32Array;
  generate(
    input: GenerationInput,
    params: Omit<GenerationParams, 'signal'>,
    onToken?: (step: GenerationStep) => void,
  ): Promise<NativeGenerationResult>;
  cancel(): void;
  reset(): void;
  setSampler(settings: SamplerSettings): void;
  fork(): NativeSequence;
  copyPrefix(source: NativeSequence, tokens: TokenIds): void;
  close(): void;
  readonly position: number;
  readonly contextSize: number;
  readonly busy: boolean;
  readonly cacheBytes: number;
}

interface NativeModel {
  info(): ModelInfo;
  tokenize(text: string, options: TokenizeOptions): number[];
  tokenizeSegments(segments: readonly TextSegment[], options: Pick<TokenizeOptions, 'addSpecial'>): number[];
  detokenize(ids: TokenIds, options: DetokenizeOptions): string;
  createSequence(options: CreateSequenceOptions): NativeSequence;
  step(
    entries: { sequence: NativeSequence | undefined; tokens: TokenIds; sample: boolean }[],
  ): Promise<BatchEntryResult[]>;
  embed(inputs: readonly TokenIds[], options: EmbedOptions): Promise<Float32Array[]>;
  close(): void;
  readonly closed: boolean;
}

export interface NativeEngineAddon {
  loadModel(path: string, options: LoadModelOptions): Promise<NativeModel>;
}

export const ENGINE_ADDON_ENV = 'SOVREN_ENGINE_ADDON';
/** cpu | cuda | auto: the backend of models loaded without LoadModelOptions.backend (checked by the addon). */
export const ENGINE_BACKEND_ENV = 'SOVREN_ENGINE_BACKEND';
const ADDON_RELATIVE_PATH = join('build', 'native', 'sovren_engine.node');

/** Where the addon is: $SOVREN_ENGINE_ADDON, else the first build/native/sovren_engine.node above `startDir`. */
export function resolveEngineAddonPath(startDir: string = __dirname): string {
  const fromEnv = process.env[ENGINE_ADDON_ENV];
  if (fromEnv) {
    const path = resolve(fromEnv);
    if (!existsSync(path)) throw new Error(`${ENGINE_ADDON_ENV} points to '${path}', which does not exist`);
    return path;
  }
  for (let dir = resolve(startDir); ; dir = dirname(dir)) {
    const candidate = join(dir, ADDON_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(
    `native engine not built: run \`npx nx run native:build\` (no ${ADDON_RELATIVE_PATH} found above ${startDir}; ` +
      `or set ${ENGINE_ADDON_ENV})`,
  );
}

let cachedAddon: NativeEngineAddon | undefined;

/** Loads the addon once per process. process.dlopen keeps bundlers from rewriting the load. */
export function loadEngineAddon(): NativeEngineAddon {
  if (!cachedAddon) {
    const path = resolveEngineAddonPath();
    const module = { exports: {} as NativeEngineAddon };
    try {
      process.dlopen(module, path);
    } catch (error) {
      throw new Error(`failed to load the native engine from '${path}': ${(error as Error).message}`);
    }
    cachedAddon = module.exports;
  }
  return cachedAddon;
}

function tokensPerSecond(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

// The native object behind each EngineSequence, for EngineModel.step (kept out of the public class shape).
const nativeSequences = new WeakMap<EngineSequence, NativeSequence>();

/** One conversation: its own KV cache and position in the model's context. */
export class EngineSequence {
  constructor(private readonly native: NativeSequence) {
    nativeSequences.set(this, native);
  }

  /** Tokens already in this sequence's cache. */
  get position(): number {
    return this.native.position;
  }

  get contextSize(): number {
    return this.native.contextSize;
  }

  /** true while a generation runs on this sequence. */
  get busy(): boolean {
    return this.native.busy;
  }

  /**
   * Appends `ids` to the sequence in one forward pass (synchronously: meant for tests and short inputs) and returns
   * the logits of the last token ([vocabSize]) or, with allLogits, of every token ([ids.length * vocabSize]).
   */
  evaluate(ids: TokenIds, options: { allLogits?: boolean } = {}): Float32Array {
    return this.native.evaluate(ids, { allLogits: options.allLogits ?? false });
  }

  /**
   * Appends the prompt and generates on a native thread, calling `onToken` for every token as it is produced.
   * Afterwards the sequence holds the prompt and every generated id (not the token that stopped generation), so a
   * later generate() continues the conversation; `{ tokens: [] }` simply continues generating.
   */
  async generate(
    input: GenerationInput,
    params: GenerationParams = {},
    onToken?: (step: GenerationStep) => void,
  ): Promise<GenerationResult> {
    const { signal, ...nativeParams } = params;
    if (signal?.aborted) {
      throw new Error('generation aborted before it started');
    }
    const onAbort = (): void => this.native.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await this.native.generate(input, nativeParams, onToken);
      return {
        ids: r.ids,
        text: r.text,
        finishReason: r.finishReason,
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        timings: {
          promptMs: r.promptMs,
          generationMs: r.generationMs,
          promptTokensPerSecond: tokensPerSecond(r.promptTokens, r.promptMs),
          generationTokensPerSecond: tokensPerSecond(r.completionTokens, r.generationMs),
        },
      };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Asks a running generation to stop after its current token; it resolves with finishReason 'cancelled'. */
  cancel(): void {
    this.native.cancel();
  }

  /**
   * Empties the sequence for a new request (not while generating or in a step): position 0, the sampler's
   * penalty history and random generator restarted from its seed, any incomplete UTF-8 of step() texts dropped.
   */
  reset(): void {
    this.native.reset();
  }

  /**
   * (Re)configures this sequence's sampler: resets its penalty history and its random generator from `seed`.
   * Tokens later fed through `EngineModel.step` are recorded in the penalty history, prompt tokens included.
   * Throws naming a bad parameter.
   */
  setSampler(settings: SamplerSettings): void {
    this.native.setSampler(settings);
  }

  /**
   * A new sequence with the same tokens, position and KV-cache contents (the rows in use are copied, so the prompt
   * is evaluated once for n forks) and a copy of the sampler (settings, penalty history, random state, grammar
   * state) and of the streaming detokenizer. Call setSampler() on it for a different seed. Throws while the
   * sequence is busy. The two are independent: closing or resetting either leaves the other alone.
   */
  fork(): EngineSequence {
    return new EngineSequence(this.native.fork());
  }

  /**
   * Makes this sequence hold `tokens`, the first tokens.length tokens of `source` (an idle sequence of the same
   * model, any context size): their KV-cache rows are copied instead of evaluated, the position becomes
   * tokens.length, and the tokens enter the penalty history as if a step had fed them (so call it after
   * setSampler()). `tokens` must be what `source` was fed: the rows are copied as they are. A prefix cache restores
   * a prompt's cached prefix this way. Throws, changing nothing, when source is of another model, closed or busy,
   * or the prefix is longer than source holds or than this sequence's context.
   */
  copyPrefix(source: EngineSequence, tokens: TokenIds): void {
    const native = source instanceof EngineSequence ? nativeSequences.get(source) : undefined;
    if (!native) throw new TypeError('copyPrefix(source, tokens): source must be an EngineSequence');
    this.native.copyPrefix(native, tokens);
  }

  /** Bytes of memory this sequence's KV cache holds (keys and values, every layer, its whole context). */
  get cacheBytes(): number {
    return this.native.cacheBytes;
  }

  /** Frees the KV cache; a running generation is cancelled first. */
  close(): void {
    this.native.close();
  }
}

/**
 * A loaded GGUF model. Several sequences run independently, each with its own KV cache; their forward passes are
 * serialised on the model (they share its compute threads), so they interleave token by token. `step()` runs many
 * sequences in one forward pass instead (continuous batching): the weights are read once for all of them.
 */
export class EngineModel {
  private constructor(private readonly native: NativeModel) {}

  static async load(path: string, options: LoadModelOptions = {}): Promise<EngineModel> {
    // Read here rather than by the addon's getenv, so a changed process.env (Jest sandboxes it) is seen.
    const backend = options.backend ?? (process.env[ENGINE_BACKEND_ENV] as LoadModelOptions['backend']);
    const native = await loadEngineAddon().loadModel(path, { ...options, backend });
    return new EngineModel(native);
  }

  get closed(): boolean {
    return this.native.closed;
  }

  info(): ModelInfo {
    return this.native.info();
  }

  tokenize(text: string, options: TokenizeOptions = {}): number[] {
    return this.native.tokenize(text, options);
  }

  /**
   * Tokenizes the segments as one text (runs merge across their edges) while parsing special tokens only inside
   * segments that ask for it: a chat template's markers do, message content does not (no control-token injection).
   */
  tokenizeSegments(segments: readonly TextSegment[], options: Pick<TokenizeOptions, 'addSpecial'> = {}): number[] {
    return this.native.tokenizeSegments(segments, options);
  }

  detokenize(ids: TokenIds, options: DetokenizeOptions = {}): string {
    return this.native.detokenize(ids, options);
  }

  /** A new empty sequence; `contextSize` (1..model context) gives it a smaller KV cache than the model's context. */
  createSequence(options: CreateSequenceOptions = {}): EngineSequence {
    return new EngineSequence(this.native.createSequence(options));
  }

  /**
   * One forward pass over several sequences on a worker thread (the event loop stays free). Validates every
   * entry first — sequence of this model and open, not busy in generate(), a sequence at most once, non-empty
   * tokens, valid ids, no context overflow — and rejects naming the entry and the problem without changing any
   * sequence. Any total number of tokens is accepted (split internally into micro-batches).
   */
  async step(entries: readonly BatchEntry[]): Promise<BatchEntryResult[]> {
    if (!Array.isArray(entries)) throw new TypeError('step(entries): entries must be an array');
    const native = entries.map((entry: BatchEntry) => ({
      sequence: entry?.sequence instanceof EngineSequence ? nativeSequences.get(entry.sequence) : undefined,
      tokens: entry?.tokens,
      sample: entry?.sample,
    }));
    return this.native.step(native);
  }

  /**
   * One embedding per input (token ids; tokenize texts first) on a worker thread: an encoder's (bert, nomic-bert)
   * pooled output, or a decoder's final-norm hidden states pooled (last token by default, or mean). Each input is
   * embedded on its own, so the vectors do not depend on the batch. Rejects naming the input for an empty one, one
   * longer than the context, or an id outside the vocabulary.
   */
  async embed(inputs: readonly TokenIds[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return this.native.embed(inputs, options);
  }

  /** Frees the weights and every sequence; running generations are cancelled. Later calls throw "model is closed". */
  close(): void {
    this.native.close();
  }
}
