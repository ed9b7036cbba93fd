// Every GGUF file in $SOVREN_ROOT/models/llms/ is a model (id = file stem). Models load at start (configurable)
// or on first use, and unload when idle or on an admin call. A model that fails to load is reported with the
// reason (file-system paths left to the log) and retried on its next use; the others keep serving. Loads stay
// within a memory budget, and each loaded model has its own batch scheduler.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { EngineModel, type EngineSequence, type ModelInfo } from '@sovren/engine';
import type { InferenceModelState } from '@sovren/messaging';
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

export interface LoadedModel {
  id: string;
  engine: EngineModel;
  info: ModelInfo;
  scheduler: ModelScheduler<EngineSequence>;
  chat: ChatTemplateRenderer;
  /** Tokens per sequence: prompt + completion must fit. */
  sequenceContext: number;
  loadedAt: Date;
}

export interface ModelEntry {
  id: string;
  path: string;
  state: InferenceModelState;
  /** Why the last load failed, fit for API answers (no file-system paths). */
  error?: string;
  loaded?: LoadedModel;
  loading?: Promise<LoadedModel>;
  fileBytes: number;
  modifiedAt: Date;
}

const MODEL_FILE = /^[A-Za-z0-9._-]+\.gguf$/;
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

  async onApplicationBootstrap(): Promise<void> {
    await this.discover();
    const wanted = loadAtStart(this.env);
    const ids = wanted === 'all' ? [...this.entries.keys()] : wanted;
    for (const id of ids) {
      if (!this.entries.has(id)) {
        this.logger.warn({
          msg: 'SOVREN_INFERENCE_LOAD_AT_START names a model that is not in the models directory',
          model: id,
          directory: this.directory,
        });
        continue;
      }
      // In the background: the service answers (and reports the load state) while big models load.
      this.acquire(id).catch((error: unknown) => {
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

  /** Re-reads the models directory: new files appear, deleted unloaded ones disappear. */
  async discover(): Promise<ModelEntry[]> {
    let files: string[];
    try {
      files = (await readdir(this.directory)).filter((name) => MODEL_FILE.test(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.error({
          msg: 'cannot read the models directory',
          directory: this.directory,
          err: errorMessage(error),
        });
      }
      files = [];
    }
    const seen = new Set<string>();
    for (const file of files) {
      const id = basename(file, '.gguf');
      seen.add(id);
      if (this.entries.has(id)) continue;
      const path = join(this.directory, file);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) continue;
      this.entries.set(id, { id, path, state: 'unloaded', fileBytes: info.size, modifiedAt: info.mtime });
      this.metrics.touchModel(id);
    }
    for (const [id, entry] of this.entries) {
      if (!seen.has(id) && entry.state !== 'loaded' && entry.state !== 'loading') this.entries.delete(id);
    }
    return this.list();
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

  /** The loaded model, loading it first when needed; throws GenerationError when it is unknown or cannot load. */
  async acquire(id: string, options: AcquireOptions = {}): Promise<LoadedModel> {
    const entry = await this.find(id);
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
    entry.loading = this.load(entry).finally(() => {
      entry.loading = undefined;
    });
    return entry.loading;
  }

  /** Bytes the loaded and loading models take: each its weight copy, else its file (mapped or about to load). */
  memoryInUse(): number {
    let used = 0;
    for (const entry of this.entries.values()) {
      if (entry.loaded) used += entry.loaded.info.weightCopyBytes || entry.fileBytes;
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
    await loaded.scheduler.close();
    loaded.engine.close();
    this.metrics.modelLoaded.set({ model: id }, 0);
    this.logger.log({ msg: 'model unloaded', model: id });
    return true;
  }

  private async load(entry: ModelEntry): Promise<LoadedModel> {
    entry.state = 'loading';
    const started = Date.now();
    let engine: EngineModel | undefined;
    try {
      const sequenceContext = await this.sequenceContextFor(entry);
      engine = await EngineModel.load(entry.path, {
        threads: this.env.SOVREN_INFERENCE_THREADS,
        contextSize: sequenceContext > 0 ? sequenceContext : undefined,
      });
      const info = engine.info();
      const loaded: LoadedModel = {
        id: entry.id,
        engine,
        info,
        sequenceContext: info.contextSize,
        chat: this.chatRenderer(entry.id, engine, info),
        scheduler: new ModelScheduler<EngineSequence>(
          engine,
          {
            model: entry.id,
            maxSequences: this.env.SOVREN_INFERENCE_MAX_SEQUENCES,
            sequenceContext: info.contextSize,
            maxQueue: this.env.SOVREN_INFERENCE_MAX_QUEUE,
            promptChunk: this.env.SOVREN_INFERENCE_PROMPT_CHUNK,
          },
          schedulerObserver(entry.id, this.metrics),
        ),
        loadedAt: new Date(),
      };
      entry.loaded = loaded;
      entry.state = 'loaded';
      entry.error = undefined;
      this.metrics.modelLoaded.set({ model: entry.id }, 1);
      this.logger.log({
        msg: 'model loaded',
        model: entry.id,
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
      const scheduler = entry.loaded?.scheduler;
      if (!scheduler || !scheduler.idle || now - scheduler.lastActivity < idleMs) continue;
      this.logger.log({
        msg: 'unloading an idle model',
        model: entry.id,
        idle_seconds: Math.round((now - scheduler.lastActivity) / 1000),
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
