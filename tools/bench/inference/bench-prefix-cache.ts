// bench-prefix-cache: time to first token of a long chat whose beginning the service has seen before (the prefix
// cache, docs/inference.md "Prefix cache") against the same chat cold, through the built service's real HTTP API
// (inference-process.ts starts it). Each repetition sends a chat of --prompt-tokens whose first --shared-tokens are
// new (cold), then a chat with the same first --shared-tokens and a different rest (warm); both ask for one token,
// non-streaming, so the client's wall time is the time to first token. Prints every pair, the medians, the ratio
// and the prompt tokens the warm requests restored (sovren_inference_prefix_cache_hit_tokens_total).
// Goal (issue 21): warm >= 5x faster than cold for a 2 000-token chat sharing 1 900 tokens.
//
// Usage (repo root; needs what bench-inference needs: PostgreSQL, nats-server, the native addon and
// `npx nx build inference`):
//   TS_NODE_PROJECT=tsconfig.base.json npx ts-node --transpile-only -r tsconfig-paths/register \
//     tools/bench/inference/bench-prefix-cache.ts [--prompt-tokens 2000] [--shared-tokens 1900] [--reps 3]
//     [--prompt-chunk 128] [--block-tokens 64] [--type F16] [--dim 768] [--ff 2048] [--layers 12] [--heads 12]
//     [--kv-heads 4] [--vocab 32000] [--threads 0] [--dir tmp/bench-models]
import { cpus, loadavg } from 'node:os';

import { EngineModel } from '@sovren/engine';
import { seededRandom } from '@sovren/engine/testing';

import { BenchArgs } from '../common/bench-args';
import {
  ensureBenchmarkModel,
  MODEL_SHAPE_OPTIONS,
  type ModelShapeOptions,
  readModelShape,
} from '../common/model-shape-args';
import { median } from '../common/percentile';
import { BENCH_MODEL_ID, BENCH_MODEL_SHAPE, describeModel, startInferenceProcess } from './inference-process';

const WORDS = (
  'the a of to and in is it you that he was for on are with as his they be at one have this from or had by word ' +
  'but what some we can out other were all there when up use your how said an each she which do their time if ' +
  'will way about many then them write would like so these her long make thing see him two has look more day ' +
  'could go come did number sound no most people my over know water than call first who may down side been now ' +
  'find any new work part take get place made live where after back little only round man year came show every ' +
  'good me give our under name very through just form sentence great think say help low line differ turn cause'
).split(' ');

interface Options extends ModelShapeOptions {
  promptTokens: number;
  sharedTokens: number;
  reps: number;
  promptChunk: number;
  blockTokens: number;
}

function parseArgs(argv: string[]): Options {
  const args = new BenchArgs('bench-prefix-cache', argv, {
    values: ['prompt-tokens', 'shared-tokens', 'reps', 'prompt-chunk', 'block-tokens', ...MODEL_SHAPE_OPTIONS],
  });
  const options: Options = {
    promptTokens: args.int('prompt-tokens', 2000, 2),
    sharedTokens: args.int('shared-tokens', 1900, 1),
    reps: args.int('reps', 3, 1),
    promptChunk: args.int('prompt-chunk', 128, 1),
    blockTokens: args.int('block-tokens', 64, 16),
    ...readModelShape(args, BENCH_MODEL_SHAPE),
  };
  if (options.sharedTokens >= options.promptTokens) {
    throw new Error(
      `bench-prefix-cache: --shared-tokens (${options.sharedTokens}) must be less than --prompt-tokens ` +
        `(${options.promptTokens})`,
    );
  }
  return options;
}

/** Text of seeded random words, `after` first, that tokenizes to at least `tokens` tokens (fewest words that do). */
function textOfTokens(model: EngineModel, tokens: number, seed: number, after = ''): string {
  const random = seededRandom(seed);
  const words: string[] = [];
  const text = (n: number): string => after + words.slice(0, n).join(' ');
  const count = (n: number): number => model.tokenize(text(n), { addSpecial: false }).length;
  while (count(words.length) < tokens) {
    for (let i = 0; i < 256; i++) words.push(WORDS[Math.floor(random() * WORDS.length)]);
  }
  let low = 0;
  let high = words.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (count(mid) >= tokens) high = mid;
    else low = mid + 1;
  }
  return text(low);
}

interface Timed {
  ms: number;
  promptTokens: number;
}

/** One single-token chat; its wall time is the time to first token. */
async function firstToken(url: string, apiKey: string, content: string): Promise<Timed> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({
      model: BENCH_MODEL_ID,
      messages: [{ role: 'user', content }],
      max_tokens: 1,
      temperature: 0,
    }),
  });
  const body = (await response.json()) as { usage?: { prompt_tokens: number } };
  const ms = performance.now() - started;
  if (response.status !== 200 || !body.usage) {
    throw new Error(`bench-prefix-cache: HTTP ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  return { ms, promptTokens: body.usage.prompt_tokens };
}

async function hitTokens(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('sovren_inference_prefix_cache_hit_tokens_total{') && l.includes(BENCH_MODEL_ID));
  if (!line)
    throw new Error('bench-prefix-cache: the service exports no sovren_inference_prefix_cache_hit_tokens_total');
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { path: modelPath, shape } = await ensureBenchmarkModel(options, 'bench-prefix-cache');
  // The texts are sized with the model's own tokenizer (weights mapped, not copied: only the vocabulary is used).
  const tokenizer = await EngineModel.load(modelPath, { weights: 'mmap', threads: 1 });
  const service = await startInferenceProcess(modelPath, {
    SOVREN_INFERENCE_THREADS: String(options.threads),
    SOVREN_INFERENCE_MAX_SEQUENCES: '4',
    SOVREN_INFERENCE_PROMPT_CHUNK: String(options.promptChunk),
    SOVREN_INFERENCE_SEQUENCE_CONTEXT: String(Math.max(2048, options.promptTokens + 64)),
    SOVREN_INFERENCE_PREFIX_CACHE_BLOCK_TOKENS: String(options.blockTokens),
  });
  const { url, apiKey } = service;
  try {
    // The chat template's own tokens count towards the prompt: measure them once, with a one-word message.
    const word = 'hello';
    const overhead =
      (await firstToken(url, apiKey, word)).promptTokens - tokenizer.tokenize(word, { addSpecial: false }).length;
    const shared = (rep: number): string => textOfTokens(tokenizer, options.sharedTokens - overhead, 1000 + rep);
    const chat = (prefix: string, seed: number): string =>
      textOfTokens(tokenizer, options.promptTokens - overhead, seed, `${prefix} `);
    console.log(
      `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs; model ${shape.name} ${options.type} ` +
        `(${describeModel(service.model)}); ~${options.promptTokens}-token chats sharing their first ` +
        `~${options.sharedTokens}; prompt chunk ${options.promptChunk}, cache blocks of ${options.blockTokens}`,
    );
    await firstToken(url, apiKey, chat(shared(-1), 1)); // warm-up: sequence pages, thread pool
    const cold: number[] = [];
    const warm: number[] = [];
    for (let rep = 0; rep < options.reps; rep++) {
      const prefix = shared(rep);
      const first = await firstToken(url, apiKey, chat(prefix, 2 * rep + 2));
      const hitsBefore = await hitTokens(url);
      const second = await firstToken(url, apiKey, chat(prefix, 2 * rep + 3));
      const restored = (await hitTokens(url)) - hitsBefore;
      cold.push(first.ms);
      warm.push(second.ms);
      console.log(
        `rep ${rep + 1}: cold ${first.ms.toFixed(0)} ms (${first.promptTokens} prompt tokens), warm ` +
          `${second.ms.toFixed(0)} ms (${second.promptTokens} prompt tokens, ${restored} restored from the cache, ` +
          `${second.promptTokens - restored} evaluated)  [load ${loadavg()
            .map((l) => l.toFixed(1))
            .join('/')}]`,
      );
    }
    const ratio = median(cold) / median(warm);
    console.log(
      `time to first token, median of ${options.reps}: cold ${median(cold).toFixed(0)} ms, warm ` +
        `${median(warm).toFixed(0)} ms: ${ratio.toFixed(1)}x faster warm; goal >= 5x ${ratio >= 5 ? 'MET' : 'MISSED'}`,
    );
  } finally {
    tokenizer.close();
    await service.dispose();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? error);
  process.exit(1);
});
