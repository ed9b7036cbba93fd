// Every GGUF file in $SOVREN_ROOT/models/llms/ is an LLM (id = file stem), every ggml-<id>.bin or <id>.gguf in
// models/whisper/ a Whisper model. Models of both kinds load at start (configurable) or on first use, and unload
// when idle or on an admin call. A model that fails to load is reported with the reason (file-system paths left to
// the log) and retried on its next use; the others keep serving. Loads stay within one memory budget, and each
// loaded LLM has its own batch scheduler (a Whisper model batches inside EngineWhisper).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { EngineModel, EngineWhisper, type EngineSequence, type ModelInfo, type WhisperModelInfo } from '@sovren/engine';
import { type InferenceModelKind, type InferenceModelState } from '@sovren/messaging';
import { readdir, stat } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { errorMessage } from '@sovren/resilience';

import { ChatTemplateRenderer } from '../chat/chat-template.renderer';
import { GenerationError, GenerationErrorCode } from '../generation/generation.errors';
import { INFERENCE_ENV, InferenceEnv, loadAtStart, modelMemoryBudget } from '../inference-config/inference.env';
import { InferenceMetrics } from '../inference.metrics';
import { ModelScheduler } from '../scheduler/model-scheduler';
import { readTrainingContext } from './gguf-training-context';
import { schedulerObserver } from './scheduler-observer';

/** What a model file holds: a GGUF LLM (models/llms) or a Whisper speech recogniser (models/whisper). */
export type ModelKind = InferenceModelKind;

export interface LoadedModel {
  kind: 'llm';
  id: string;
  engine: EngineModel;
  info: ModelInfo;
  scheduler: ModelScheduler<EngineSequence>;
  chat: ChatTemplateRenderer;
  /** Tokens per sequence: prompt + completion must fit. */
  sequenceContext: number;
  loadedAt: Date;
}

export interface LoadedWhisperModel {
  kind: 'whisper';
  id: string;
  engine: EngineWhisper;
  info: WhisperModelInfo;
  loadedAt: Date;
  /** Transcriptions running now, and when the last one ended (ms since the epoch): the idle unload reads both. */
  inFlight: number;
  lastActivity: number;
}

export type LoadedAnyModel = LoadedModel | LoadedWhisperModel;

export interface ModelEntry {
  id: string;
  kind: ModelKind;
  path: string;
  state: InferenceModelState;
  /** Why the last load failed, fit for API answers (no file-system paths). */
  error?: string;
  loaded?: LoadedAnyModel;
  loading?: Promise<LoadedAnyModel>;
  fileBytes: number;
  modifiedAt: Date;
}

const MODEL_FILE = /^[A-Za-z0-9._-]+\.gguf$/;
/** whisper.cpp's file names (ggml-<id>.bin), or <id>.gguf for the same model in GGUF. */
const WHISPER_FILE = /^(?:ggml-([A-Za-z0-9][A-Za-z0-9._-]{0,100})\.bin|([A-Za-z0-9][A-Za-z0-9._-]{0,100})\.gguf)$/;
const MIB = 1024 * 1024;

export interface AcquireOptions {
  /** Whether this caller may load a model that is not loaded (default true). */
  mayLoad?: boolean;
}

@Injectable()
export class ModelRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ModelRegistry.name);
  private readonly entries = new Map<string, ModelEntry>();
  private idleTimer: NodeJS.Timeout | undefined;
  private shuttingDown = false;
  /** Files ignored because another file has their id (warned about once). */
  private readonly ignoredFiles = new Set<string>();
  /** Bytes the loaded (and loading) models may take together. */
  readonly memoryBudget: number;

  constructor(
    private readonly config: PlatformConfig,
    @Inject(INFERENCE_ENV) private readonly env: InferenceEnv,
    private readonly metrics: InferenceMetrics,
  ) {
    this.memoryBudget = modelMemoryBudget(env, totalmem());
  }

  get directory(): string {
    return this.config.paths.models.llms;
  }

  get whisperDirectory(): string {
    return this.config.paths.models.whisper;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.discover();
    const wanted = loadAtStart(this.env);
    const ids = wanted === 'all' ? [...this.entries.keys()] : wanted;
    for (const id of ids) {
      if (!this.entries.has(id)) {
        this.logger.warn({
          msg: 'SOVREN_INFERENCE_LOAD_AT_START names a model that is not in the models directories',
          model: id,
          directories: [this.directory, this.whisperDirectory],
        });
        continue;
      }
      // In the background: the service answers (and reports the load state) while big models load.
      this.load(id).catch((error: unknown) => {
        // A model that could not load was already logged with its path and reason by acquire(); anything else
        // (e.g. shutting down meanwhile) is logged here.
        if (error instanceof GenerationError && error.code === GenerationErrorCode.MODEL_UNAVAILABLE) {
          this.logger.debug({ msg: 'loading at start failed (reported above)', model: id });
          return;
        }
        this.logger.error({ msg: 'loading at start failed', model: id, err: errorMessage(error) });
      });
    }
    const idleSeconds = this.env.SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS;
    if (idleSeconds > 0) {
      this.idleTimer = setInterval(() => void this.unloadIdle(idleSeconds * 1000), Math.min(30_000, idleSeconds * 250));
      this.idleTimer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.idleTimer) clearInterval(this.idleTimer);
    await Promise.all(
      [...this.entries.values()].map((entry) =>
        this.unload(entry.id).catch((error: unknown) => {
          this.logger.error({ msg: 'unloading at shutdown failed', model: entry.id, err: errorMessage(error) });
        }),
      ),
    );
  }

  /** Re-reads the models directories: new files appear, deleted unloaded ones disappear. */
  async discover(): Promise<ModelEntry[]> {
    const files = [
      ...(await this.modelFiles(this.directory, 'llm', (name) =>
        MODEL_FILE.test(name) ? basename(name, '.gguf') : undefined,
      )),
      ...(await this.modelFiles(this.whisperDirectory, 'whisper', (name) => {
        const match = WHISPER_FILE.exec(name);
        return match ? (match[1] ?? match[2]) : undefined;
      })),
    ];
    const seen = new Set<string>();
    for (const file of files) {
      const known = this.entries.get(file.id);
      if (seen.has(file.id) || (known && known.path !== file.path)) {
        // One id, one model: an LLM and a Whisper model with the same id would be ambiguous to every caller.
        if (this.ignoredFiles.has(file.path)) continue;
        this.ignoredFiles.add(file.path);
        this.logger.warn({
          msg: 'two model files have the same id; the second is ignored',
          model: file.id,
          kept: known?.path,
          ignored: file.path,
        });
        continue;
      }
      seen.add(file.id);
      if (known) continue;
      const info = await stat(file.path).catch(() => undefined);
      if (!info?.isFile()) continue;
      this.entries.set(file.id, {
        id: file.id,
        kind: file.kind,
        path: file.path,
        state: 'unloaded',
        fileBytes: info.size,
        modifiedAt: info.mtime,
      });
      this.metrics.touchModel(file.id);
    }
    for (const [id, entry] of this.entries) {
      if (!seen.has(id) && entry.state !== 'loaded' && entry.state !== 'loading') this.entries.delete(id);
    }
    return this.list();
  }

  /** The model files of one directory (none when it does not exist), in name order. */
  private async modelFiles(
    directory: string,
    kind: ModelKind,
    idOf: (name: string) => string | undefined,
  ): Promise<Array<{ id: string; kind: ModelKind; path: string }>> {
    let names: string[];
    try {
      names = (await readdir(directory)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.error({ msg: 'cannot read a models directory', directory, err: errorMessage(error) });
      }
      return [];
    }
    const files: Array<{ id: string; kind: ModelKind; path: string }> = [];
    for (const name of names) {
      const id = idOf(name);
      if (id !== undefined) files.push({ id, kind, path: join(directory, name) });
    }
    return files;
  }

  list(): ModelEntry[] {
    return [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  async find(id: string): Promise<ModelEntry> {
    if (!this.entries.has(id)) await this.discover();
    const entry = this.entries.get(id);
    if (!entry)
      throw new GenerationError(GenerationErrorCode.MODEL_NOT_FOUND, `The model '${id}' does not exist`, 'model');
    return entry;
  }

  /** The loaded LLM, loading it first when needed; throws GenerationError when it is unknown or cannot load. */
  async acquire(id: string, options: AcquireOptions = {}): Promise<LoadedModel> {
    const entry = await this.find(id);
    if (entry.kind !== 'llm') {
      throw new GenerationError(
        GenerationErrorCode.INVALID_REQUEST,
        `The model '${id}' is a Whisper speech-recognition model; it serves /v1/audio/transcriptions`,
        'model',
      );
    }
    const loaded = await this.acquireEntry(entry, options);
    if (loaded.kind !== 'llm') throw new Error(`model '${id}' changed kind while loading`);
    return loaded;
  }

  /** The loaded Whisper model, loading it first when needed; GenerationError as acquire() throws them. */
  async acquireWhisper(id: string, options: AcquireOptions = {}): Promise<LoadedWhisperModel> {
    const entry = await this.find(id);
    if (entry.kind !== 'whisper') {
      throw new GenerationError(
        GenerationErrorCode.MODEL_NOT_FOUND,
        `The model '${id}' is not a Whisper model; installed Whisper models: ${this.whisperIds().join(', ') || 'none'}`,
        'model',
      );
    }
    const loaded = await this.acquireEntry(entry, options);
    if (loaded.kind !== 'whisper') throw new Error(`model '${id}' changed kind while loading`);
    return loaded;
  }

  /** Loads a model of either kind (admin routes, loading at start); resolves once it is loaded. */
  async load(id: string): Promise<void> {
    await this.acquireEntry(await this.find(id), {});
  }

  /** Ids of the known Whisper models, sorted. */
  whisperIds(): string[] {
    return this.list()
      .filter((entry) => entry.kind === 'whisper')
      .map((entry) => entry.id);
  }

  private async acquireEntry(entry: ModelEntry, options: AcquireOptions): Promise<LoadedAnyModel> {
    const id = entry.id;
    if (entry.loaded) return entry.loaded;
    if (this.shuttingDown) {
      throw new GenerationError(
        GenerationErrorCode.MODEL_UNLOADING,
        'the inference service is shutting down',
        'model',
        5,
      );
    }
    if (entry.loading) return entry.loading;
    if (options.mayLoad === false) {
      throw new GenerationError(
        GenerationErrorCode.MODEL_NOT_LOADED,
        `The model '${id}' is not loaded; it loads at start or when an administrator loads it`,
        'model',
      );
    }
    this.checkMemoryBudget(entry);
    entry.loading = this.loadEntry(entry).finally(() => {
      entry.loading = undefined;
    });
    return entry.loading;
  }

  /** Bytes the loaded and loading models take: each its weight copy, else its file (mapped or about to load). */
  memoryInUse(): number {
    let used = 0;
    for (const entry of this.entries.values()) {
      if (entry.loaded?.kind === 'llm') used += entry.loaded.info.weightCopyBytes || entry.fileBytes;
      else if (entry.loaded) used += entry.fileBytes;
      else if (entry.loading) used += entry.fileBytes;
    }
    return used;
  }

  private checkMemoryBudget(entry: ModelEntry): void {
    const used = this.memoryInUse();
    if (used + entry.fileBytes <= this.memoryBudget) return;
    const mib = (bytes: number) => Math.ceil(bytes / MIB);
    this.logger.warn({
      msg: 'model load refused: over the memory budget',
      model: entry.id,
      needed_bytes: entry.fileBytes,
      used_bytes: used,
      budget_bytes: this.memoryBudget,
    });
    throw new GenerationError(
      GenerationErrorCode.MODEL_MEMORY_EXCEEDED,
      `The model '${entry.id}' (${mib(entry.fileBytes)} MiB) cannot be loaded: the loaded models already take ` +
        `${mib(used)} MiB of the ${mib(this.memoryBudget)} MiB budget for models; unload one first`,
      'model',
    );
  }

  /** Unloads a loaded model (its running requests end); false when it was not loaded. */
  async unload(id: string): Promise<boolean> {
    const entry = await this.find(id);
    if (entry.loading) await entry.loading.catch(() => undefined);
    const loaded = entry.loaded;
    if (!loaded) return false;
    entry.loaded = undefined;
    entry.state = 'unloaded';
    if (loaded.kind === 'llm') await loaded.scheduler.close();
    // A Whisper model's queued transcriptions are refused; its running batch finishes first.
    loaded.engine.close();
    this.metrics.modelLoaded.set({ model: id }, 0);
    this.logger.log({ msg: 'model unloaded', model: id });
    return true;
  }

  private async loadEntry(entry: ModelEntry): Promise<LoadedAnyModel> {
    entry.state = 'loading';
    const started = Date.now();
    let engine: EngineModel | EngineWhisper | undefined;
    try {
      if (entry.kind === 'whisper') {
        const whisper = await EngineWhisper.load(entry.path, { threads: this.env.SOVREN_INFERENCE_THREADS });
        engine = whisper;
        const info = whisper.info();
        const loaded: LoadedWhisperModel = {
          kind: 'whisper',
          id: entry.id,
          engine: whisper,
          info,
          loadedAt: new Date(),
          inFlight: 0,
          lastActivity: Date.now(),
        };
        this.loaded(entry, loaded);
        this.logger.log({
          msg: 'model loaded',
          model: entry.id,
          kind: 'whisper',
          seconds: (Date.now() - started) / 1000,
          backend: info.backend,
          weights: info.weightTypes,
        });
        return loaded;
      }
      const sequenceContext = await this.sequenceContextFor(entry);
      const llm = await EngineModel.load(entry.path, {
        threads: this.env.SOVREN_INFERENCE_THREADS,
        contextSize: sequenceContext > 0 ? sequenceContext : undefined,
      });
      engine = llm;
      const info = llm.info();
      const loaded: LoadedModel = {
        kind: 'llm',
        id: entry.id,
        engine: llm,
        info,
        sequenceContext: info.contextSize,
        chat: this.chatRenderer(entry.id, llm, info),
        scheduler: new ModelScheduler<EngineSequence>(
          llm,
          {
            model: entry.id,
            maxSequences: this.env.SOVREN_INFERENCE_MAX_SEQUENCES,
            sequenceContext: info.contextSize,
            maxQueue: this.env.SOVREN_INFERENCE_MAX_QUEUE,
            promptChunk: this.env.SOVREN_INFERENCE_PROMPT_CHUNK,
            prefixCache: {
              budgetBytes: this.env.SOVREN_INFERENCE_PREFIX_CACHE_MB * 1024 * 1024,
              blockTokens: this.env.SOVREN_INFERENCE_PREFIX_CACHE_BLOCK_TOKENS,
            },
          },
          schedulerObserver(entry.id, this.metrics),
        ),
        loadedAt: new Date(),
      };
      this.loaded(entry, loaded);
      this.logger.log({
        msg: 'model loaded',
        model: entry.id,
        kind: 'llm',
        seconds: (Date.now() - started) / 1000,
        backend: info.backend,
        context: info.contextSize,
        parameters: info.parameterCount,
      });
      return loaded;
    } catch (error) {
      engine?.close();
      entry.state = 'failed';
      entry.error = withoutPaths(errorMessage(error), entry);
      this.metrics.modelLoadFailures.inc({ model: entry.id });
      this.logger.error({ msg: 'model failed to load', model: entry.id, path: entry.path, err: errorMessage(error) });
      throw new GenerationError(
        GenerationErrorCode.MODEL_UNAVAILABLE,
        `The model '${entry.id}' could not be loaded: ${entry.error}`,
        'model',
      );
    }
  }

  private loaded(entry: ModelEntry, loaded: LoadedAnyModel): void {
    entry.loaded = loaded;
    entry.state = 'loaded';
    entry.error = undefined;
    this.metrics.modelLoaded.set({ model: entry.id }, 1);
  }

  /**
   * SOVREN_INFERENCE_SEQUENCE_CONTEXT, or the model's training context when that is smaller (a model trained on
   * 512 tokens serves 512-token sequences rather than failing to load).
   */
  private async sequenceContextFor(entry: ModelEntry): Promise<number> {
    const configured = this.env.SOVREN_INFERENCE_SEQUENCE_CONTEXT;
    if (configured === 0) return 0;
    const training = await readTrainingContext(entry.path).catch((error: unknown) => {
      // Not a readable GGUF header: the engine's load says why, with the configured context.
      this.logger.debug({ msg: 'cannot read the training context', model: entry.id, err: errorMessage(error) });
      return undefined;
    });
    if (training === undefined || training <= 0 || training >= configured) return configured;
    this.logger.log({
      msg: "model trained for a shorter context than SOVREN_INFERENCE_SEQUENCE_CONTEXT; using the model's own",
      model: entry.id,
      training_context: training,
      configured_context: configured,
    });
    return training;
  }

  private chatRenderer(id: string, engine: EngineModel, info: ModelInfo): ChatTemplateRenderer {
    const special = info.specialTokens;
    const text = (token: number | null): string =>
      token === null ? '' : engine.detokenize([token], { renderSpecial: true });
    return new ChatTemplateRenderer(id, info.chatTemplate, text(special.bos), text(special.eos));
  }

  private async unloadIdle(idleMs: number): Promise<void> {
    const now = Date.now();
    for (const entry of this.entries.values()) {
      const loaded = entry.loaded;
      if (!loaded) continue;
      const idle = loaded.kind === 'llm' ? loaded.scheduler.idle : loaded.inFlight === 0;
      const lastActivity = loaded.kind === 'llm' ? loaded.scheduler.lastActivity : loaded.lastActivity;
      if (!idle || now - lastActivity < idleMs) continue;
      this.logger.log({
        msg: 'unloading an idle model',
        model: entry.id,
        kind: entry.kind,
        idle_seconds: Math.round((now - lastActivity) / 1000),
      });
      await this.unload(entry.id).catch((error: unknown) =>
        this.logger.error({ msg: 'idle unload failed', model: entry.id, err: errorMessage(error) }),
      );
    }
  }
}

/** `message` for API answers: the model's path becomes its file name, any other absolute path `<path>`. */
export function withoutPaths(message: string, entry: Pick<ModelEntry, 'path'>): string {
  return message
    .split(entry.path)
    .join(basename(entry.path))
    .replace(/(^|[\s'"(=:])\/(?:[^\s'"():]+\/)*[^\s'"():]*/g, '$1<path>');
}
