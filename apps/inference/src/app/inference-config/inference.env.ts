// The inference service's own environment variables (models, scheduler sizes, timeouts), validated at start-up.
import { IsIntegerInRange, IsOneOf, ToInteger } from '@sovren/config';
import { Matches } from 'class-validator';

export class InferenceEnv {
  /** Models loaded when the service starts: `all`, `none`, or a comma-separated list of model ids (file stems). */
  @Matches(/^(all|none|[A-Za-z0-9._-]+(\s*,\s*[A-Za-z0-9._-]+)*)$/, {
    message: 'must be "all", "none" or a comma-separated list of model ids (GGUF file names without .gguf)',
  })
  SOVREN_INFERENCE_LOAD_AT_START = 'none';

  /** A loaded model with no request for this long is unloaded (0: never). */
  @ToInteger()
  @IsIntegerInRange(0, 30 * 24 * 3600)
  SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS = 900;

  /** Compute threads per model (0: one per online core). */
  @ToInteger()
  @IsIntegerInRange(0, 1024)
  SOVREN_INFERENCE_THREADS = 0;

  /** Sequences decoded together per model (the continuous batch); their KV caches are allocated on first use. */
  @ToInteger()
  @IsIntegerInRange(1, 1024)
  SOVREN_INFERENCE_MAX_SEQUENCES = 64;

  /** Tokens per sequence (prompt + completion); 0: the model's own context (at most 4096). */
  @ToInteger()
  @IsIntegerInRange(0, 1_048_576)
  SOVREN_INFERENCE_SEQUENCE_CONTEXT = 2048;

  /** Requests waiting for a free sequence per model before new ones are refused with 429. */
  @ToInteger()
  @IsIntegerInRange(0, 100_000)
  SOVREN_INFERENCE_MAX_QUEUE = 256;

  /** Prompt tokens processed per batched step, across all sequences (a long prompt is fed in chunks). */
  @ToInteger()
  @IsIntegerInRange(1, 65_536)
  SOVREN_INFERENCE_PROMPT_CHUNK = 128;

  /**
   * Memory for the prompt-prefix cache per model, in MiB: KV copies of prompts already evaluated, so a prompt that
   * starts like an earlier one (a chat's history, a shared system prompt) feeds only the rest. 0: off.
   */
  @ToInteger()
  @IsIntegerInRange(0, 1 << 30)
  SOVREN_INFERENCE_PREFIX_CACHE_MB = 1024;

  /** Tokens per prefix-cache block: prompts are cached and matched in whole blocks. */
  @ToInteger()
  @IsIntegerInRange(16, 4096)
  SOVREN_INFERENCE_PREFIX_CACHE_BLOCK_TOKENS = 64;

  /** A request still running after this long (queue included) is ended with what it has generated. */
  @ToInteger()
  @IsIntegerInRange(1, 24 * 3600)
  SOVREN_INFERENCE_REQUEST_TIMEOUT_SECONDS = 300;

  /** Generations one user may have running or queued at once, over HTTP and NATS together; beyond: 429. */
  @ToInteger()
  @IsIntegerInRange(1, 100_000)
  SOVREN_INFERENCE_MAX_CONCURRENT_PER_USER = 8;

  /**
   * `true`: a request for a model that is not loaded loads it. `false`: only callers holding `inference:admin`
   * load models that way (or through the admin load route); everyone else gets 503 until a model is loaded.
   */
  @IsOneOf(['true', 'false'])
  SOVREN_INFERENCE_LOAD_ON_DEMAND = 'true';

  /**
   * Memory the loaded models may take together, in MiB (each counts its weight copy, or its file size while it
   * loads or when weights are mapped); a load beyond it is refused with 503. 0: 80 % of the machine's memory.
   */
  @ToInteger()
  @IsIntegerInRange(0, 1 << 30)
  SOVREN_INFERENCE_MODEL_MEMORY_MB = 0;

  /** Largest JSON request body in bytes (long-context prompts need room); beyond: 413. */
  @ToInteger()
  @IsIntegerInRange(1024, 1 << 30)
  SOVREN_INFERENCE_JSON_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

  /** Speech (ONNX Runtime) execution provider: `auto` (CUDA when its provider library is installed), `cpu`, `cuda`. */
  @IsOneOf(['auto', 'cpu', 'cuda'])
  SOVREN_TTS_EXECUTION_PROVIDER = 'auto';

  /** ONNX Runtime intra-op threads per speech model run (0: ONNX Runtime's default, one per core). */
  @ToInteger()
  @IsIntegerInRange(0, 1024)
  SOVREN_TTS_THREADS = 0;

  /** Speech model runs at once, across all requests (taken from the requests in turn). */
  @ToInteger()
  @IsIntegerInRange(1, 64)
  SOVREN_TTS_CONCURRENCY = 2;

  /** Speech requests open at once (synthesising or waiting); beyond: 429 / queue_full. */
  @ToInteger()
  @IsIntegerInRange(1, 100_000)
  SOVREN_TTS_MAX_QUEUE = 64;
}

export const INFERENCE_ENV = Symbol('INFERENCE_ENV');

/** The model ids to load at start, or 'all'. */
export function loadAtStart(env: InferenceEnv): 'all' | string[] {
  const value = env.SOVREN_INFERENCE_LOAD_AT_START.trim();
  if (value === 'all') return 'all';
  if (value === 'none') return [];
  return value
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
}

/** The models' memory budget in bytes (SOVREN_INFERENCE_MODEL_MEMORY_MB, or 80 % of `totalMemory`). */
export function modelMemoryBudget(env: InferenceEnv, totalMemory: number): number {
  const mib = env.SOVREN_INFERENCE_MODEL_MEMORY_MB;
  return mib > 0 ? mib * 1024 * 1024 : Math.floor(totalMemory * 0.8);
}
