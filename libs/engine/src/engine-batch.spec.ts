// EngineModel.step (continuous batching) on generated GGUF files: several sequences with different prompt lengths
// fed through batched steps — prompt chunks beside single decode tokens, in varying groupings, beyond one
// micro-batch — must give what each sequence gives alone (greedy tokens, KV-cache contents, seeded sampling),
// and bad batches must reject naming the entry without changing any sequence.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EngineModel, EngineSequence } from './engine';
import type { BatchEntry, BatchEntryResult, SamplerSettings, TokenIds } from './engine.types';
import { TensorType } from './quant/tensor-type';
import { referenceGreedy, relativeL2 } from './testing/reference-forward';
import { TRAINING_CORPUS } from './testing/test-vocab';
import { TinyModel, writeTinyModel } from './testing/tiny-model';

// Generous: generating models and the float64 reference are slow on a busy two-core machine (this is not a speed test).
jest.setTimeout(180_000);

let dir: string;
let f32: TinyModel;
let f32Model: EngineModel;
let q8: TinyModel;
let q8Model: EngineModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-batch-'));
  f32 = await writeTinyModel(join(dir, 'f32.gguf'), { vocab: 'spm', contextLength: 1024, muteEndOfGeneration: true });
  q8 = await writeTinyModel(join(dir, 'q8.gguf'), { vocab: 'bpe', type: TensorType.Q8_0, seed: 3, contextLength: 512 });
  f32Model = await EngineModel.load(f32.path, { threads: 2 });
  q8Model = await EngineModel.load(q8.path, { threads: 2 });
});

afterAll(() => {
  f32Model?.close();
  q8Model?.close();
  rmSync(dir, { recursive: true, force: true });
});

function corpus(model: EngineModel, n: number, offset = 0): number[] {
  const ids = model.tokenize(TRAINING_CORPUS.repeat(4)).slice(offset, offset + n);
  expect(ids.length).toBe(n);
  return ids;
}

interface Plan {
  prompt: number[];
  /** Chunk sizes the prompt is fed in (the last one repeats). */
  chunks: number[];
  /** First step the sequence joins. */
  start: number;
}

interface Run {
  sequence: EngineSequence;
  tokens: number[];
  texts: string[];
}

/** Feeds every plan through model.step() until each has `n` sampled tokens; returns what each sequence got. */
async function runPlans(model: EngineModel, plans: Plan[], n: number, sampler: SamplerSettings): Promise<Run[]> {
  const runs = plans.map((): Run => {
    const sequence = model.createSequence();
    sequence.setSampler(sampler);
    return { sequence, tokens: [], texts: [] };
  });
  const fed = plans.map(() => 0);
  const chunkIndex = plans.map(() => 0);
  for (let step = 0; ; step++) {
    const entries: BatchEntry[] = [];
    const owners: number[] = [];
    plans.forEach((plan, i) => {
      const run = runs[i];
      if (step < plan.start || run.tokens.length === n) return;
      if (fed[i] < plan.prompt.length) {
        const size = plan.chunks[Math.min(chunkIndex[i]++, plan.chunks.length - 1)];
        const tokens = plan.prompt.slice(fed[i], fed[i] + size);
        fed[i] += tokens.length;
        entries.push({ sequence: run.sequence, tokens, sample: fed[i] === plan.prompt.length });
      } else {
        entries.push({ sequence: run.sequence, tokens: [run.tokens[run.tokens.length - 1]], sample: true });
      }
      owners.push(i);
    });
    if (entries.length === 0) return runs;
    const before = entries.map((e) => e.sequence.position);
    const results = await model.step(entries);
    expect(results).toHaveLength(entries.length);
    results.forEach((result: BatchEntryResult, k) => {
      expect(entries[k].sequence.position).toBe(before[k] + entries[k].tokens.length);
      if (!entries[k].sample) {
        expect(result).toEqual({ token: -1, text: '', endOfGeneration: false });
        return;
      }
      runs[owners[k]].tokens.push(result.token);
      runs[owners[k]].texts.push(result.text);
    });
  }
}

const GREEDY: SamplerSettings = { temperature: 0 };

function mixedPlans(model: EngineModel): Plan[] {
  return [
    { prompt: corpus(model, 1), chunks: [1], start: 0 },
    { prompt: corpus(model, 6, 3), chunks: [2, 4], start: 0 },
    { prompt: corpus(model, 19, 10), chunks: [19], start: 2 },
    { prompt: corpus(model, 40, 5), chunks: [7, 16, 17], start: 1 },
    { prompt: corpus(model, 3, 30), chunks: [1], start: 4 },
  ];
}

describe('batched steps over several sequences (F32)', () => {
  it('give every sequence the greedy tokens of the float64 reference and of generate() alone', async () => {
    const plans = mixedPlans(f32Model);
    const runs = await runPlans(f32Model, plans, 14, GREEDY);
    const eog = f32Model.info().specialTokens.eog;
    for (const [i, plan] of plans.entries()) {
      expect(runs[i].tokens).toEqual(referenceGreedy(f32.weights, plan.prompt, 14, eog));
      const alone = await f32Model
        .createSequence()
        .generate({ tokens: plan.prompt }, { temperature: 0, maxTokens: 14 });
      expect(runs[i].tokens).toEqual(alone.ids);
    }
  });

  it('fill each KV cache as a sequence evaluated alone does (logits of the next token within 1e-5)', async () => {
    const plans = mixedPlans(f32Model);
    const runs = await runPlans(f32Model, plans, 6, GREEDY);
    for (const [i, plan] of plans.entries()) {
      const tokens = [...plan.prompt, ...runs[i].tokens];
      const next = runs[i].sequence.evaluate([runs[i].tokens[5]]);
      const alone = f32Model.createSequence().evaluate(tokens);
      expect(relativeL2(next, alone)).toBeLessThan(1e-5);
    }
  });

  it('split a step of more than 512 tokens into micro-batches with the same results', async () => {
    const plans = [
      { prompt: corpus(f32Model, 300), chunks: [300], start: 0 },
      { prompt: corpus(f32Model, 280, 7), chunks: [280], start: 0 },
      { prompt: corpus(f32Model, 2, 9), chunks: [2], start: 0 },
    ];
    const runs = await runPlans(f32Model, plans, 3, GREEDY);
    const eog = f32Model.info().specialTokens.eog;
    plans.forEach((plan, i) => expect(runs[i].tokens).toEqual(referenceGreedy(f32.weights, plan.prompt, 3, eog)));
  });

  it('runs on a worker thread: timers keep firing while a long step runs', async () => {
    const sequences = [0, 1, 2].map(() => f32Model.createSequence());
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const running = f32Model.step(
        sequences.map((sequence, i) => ({ sequence, tokens: corpus(f32Model, 300, i), sample: true })),
      );
      await running;
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
    }
  });

  it('resolves an empty batch with no results', async () => {
    await expect(f32Model.step([])).resolves.toEqual([]);
  });
});

// A matmul over fewer than 64 rows multiplies the quantised weights with activations rounded to int8, exactly as
// single-token decoding does; over 64 or more rows, the GEMM path multiplies dequantised weights with float
// activations (as a long prompt pass does). Below 64 rows per step a batched sequence therefore computes what it
// computes alone; a step of 64+ rows gives its rows the float path, and on this tiny model the two paths differ
// by 1-2% (engine-forward.spec bounds each against the float64 reference: 1e-2 mean, 3e-2 worst).
describe('batched steps with Q8_0 weights', () => {
  it('fill each KV cache exactly as a sequence evaluated alone while steps stay under 64 rows', async () => {
    const plans = mixedPlans(q8Model);
    const runs = await runPlans(q8Model, plans, 8, GREEDY);
    for (const [i, plan] of plans.entries()) {
      const next = runs[i].sequence.evaluate([runs[i].tokens[7]]);
      const alone = q8Model.createSequence().evaluate([...plan.prompt, ...runs[i].tokens]);
      expect(relativeL2(next, alone)).toBeLessThan(1e-5);
    }
  });

  it('stay within the quantised tolerance when a step of 64+ rows takes the float-activation path', async () => {
    const plans = [
      ...mixedPlans(q8Model),
      { prompt: corpus(q8Model, 70, 50), chunks: [70], start: 2 },
      { prompt: corpus(q8Model, 60, 90), chunks: [30], start: 3 },
    ];
    const runs = await runPlans(q8Model, plans, 8, GREEDY);
    const errors = plans.map((plan, i) => {
      const next = runs[i].sequence.evaluate([runs[i].tokens[7]]);
      const alone = q8Model.createSequence();
      let logits: Float32Array = new Float32Array();
      for (const t of [...plan.prompt, ...runs[i].tokens]) logits = alone.evaluate([t]);
      return relativeL2(next, logits);
    });
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(2e-2);
    expect(Math.max(...errors)).toBeLessThan(3e-2);
  });
});

describe('sampling through steps', () => {
  const settings: SamplerSettings = {
    temperature: 1.1,
    topK: 60,
    topP: 0.97,
    minP: 0.01,
    repeatPenalty: 1.1,
    frequencyPenalty: 0.2,
    presencePenalty: 0.1,
    seed: 4242,
  };

  async function sampleThroughSteps(
    model: EngineModel,
    sequence: EngineSequence,
    prompt: number[],
    companions: EngineSequence[],
  ) {
    const tokens: number[] = [];
    let text = '';
    let input: number[] = prompt;
    for (let i = 0; i < 40; i++) {
      const entries: BatchEntry[] = [{ sequence, tokens: input, sample: true }];
      companions.forEach((c, k) =>
        entries.push({ sequence: c, tokens: [5 + ((i + k) % 40)], sample: (i + k) % 2 === 0 }),
      );
      const [result] = await model.step(entries);
      if (result.endOfGeneration) break;
      tokens.push(result.token);
      text += result.text;
      input = [result.token];
    }
    return { tokens, text };
  }

  it('gives the tokens and text generate() gives with the same seed, params and prompt (Q8_0, UTF-8 text)', async () => {
    const prompt = q8Model.tokenize('Le café était très chaud');
    const expected = await q8Model.createSequence().generate({ tokens: prompt }, { ...settings, maxTokens: 40 });
    expect(expected.ids.length).toBeGreaterThan(3);
    const sequence = q8Model.createSequence();
    sequence.setSampler(settings);
    const alone = await sampleThroughSteps(q8Model, sequence, prompt, []);
    expect(alone.tokens).toEqual(expected.ids);
    expect(alone.text).toBe(expected.text);

    // reset() makes the sequence reusable: position 0, sampler history and random generator restarted; other
    // sequences sharing the steps do not change the draws (the steps stay under 64 rows, see the Q8_0 note).
    sequence.reset();
    expect(sequence.position).toBe(0);
    const companions = [q8Model.createSequence(), q8Model.createSequence()];
    await q8Model.step(companions.map((c, k) => ({ sequence: c, tokens: corpus(q8Model, 5 + 9 * k), sample: false })));
    const together = await sampleThroughSteps(q8Model, sequence, prompt, companions);
    expect(together.tokens).toEqual(expected.ids);
    expect(together.text).toBe(expected.text);
  });

  // Float weights take the same arithmetic whatever the step's row count (within float rounding), so other
  // sequences sharing the steps cannot change the draws, even in steps of 64+ rows.
  it('gives the tokens generate() gives when other sequences share the steps (F32, steps over 64 rows)', async () => {
    const prompt = corpus(f32Model, 14, 2);
    const expected = await f32Model.createSequence().generate({ tokens: prompt }, { ...settings, maxTokens: 40 });
    expect(expected.ids).toHaveLength(40);
    const sequence = f32Model.createSequence();
    sequence.setSampler(settings);
    const companions = [f32Model.createSequence(), f32Model.createSequence()];
    await f32Model.step(
      companions.map((c, k) => ({ sequence: c, tokens: corpus(f32Model, 5 + 9 * k), sample: false })),
    );
    const tokens: number[] = [];
    let input = prompt;
    for (let i = 0; i < 40; i++) {
      // Every other step, the companions feed a 40-token chunk: 14 + 80 or 1 + 80 rows.
      const chunk = (k: number): number[] => (i % 2 === 0 ? corpus(f32Model, 40, 40 * i + k) : [5 + k]);
      const [result] = await f32Model.step([
        { sequence, tokens: input, sample: true },
        ...companions.map((c, k) => ({ sequence: c, tokens: chunk(k), sample: false })),
      ]);
      tokens.push(result.token);
      input = [result.token];
    }
    expect(tokens).toEqual(expected.ids);
  });

  it('rejects bad sampler settings naming the parameter and keeps the previous sampler', async () => {
    const sequence = f32Model.createSequence();
    expect(() => sequence.setSampler({ topP: 2 })).toThrow('top_p must be in [0, 1]');
    expect(() => sequence.setSampler({ temperature: 'hot' as unknown as number })).toThrow(
      'settings.temperature must be a number',
    );
    expect(() => sequence.setSampler({ seed: -1 })).toThrow('settings.seed must not be negative');
    sequence.setSampler(GREEDY);
    expect(() => sequence.setSampler({ repeatPenalty: 0 })).toThrow('repeat_penalty must be a positive number');
    const prompt = corpus(f32Model, 4);
    const [result] = await f32Model.step([{ sequence, tokens: prompt, sample: true }]);
    expect(result.token).toBe(referenceGreedy(f32.weights, prompt, 1, [])[0]);
  });
});

describe('validation', () => {
  it('rejects a bad entry by name without changing any sequence, and the next valid step is still exact', async () => {
    const a = f32Model.createSequence();
    const b = f32Model.createSequence({ contextSize: 16 });
    a.setSampler(GREEDY);
    b.setSampler(GREEDY);
    const promptA = corpus(f32Model, 5);
    const promptB = corpus(f32Model, 4, 20);
    await f32Model.step([
      { sequence: a, tokens: promptA, sample: false },
      { sequence: b, tokens: promptB, sample: false },
    ]);
    const vocab = f32Model.info().vocabSize;
    const foreign = q8Model.createSequence();
    const closed = f32Model.createSequence();
    closed.close();
    const ok: BatchEntry = { sequence: a, tokens: [7], sample: true };
    const bad: [string, BatchEntry[], string][] = [
      [
        'a duplicate sequence',
        [ok, { sequence: a, tokens: [8], sample: true }],
        'entries[1].sequence appears more than once',
      ],
      ['empty tokens', [ok, { sequence: b, tokens: [], sample: true }], 'entries[1].tokens must not be empty'],
      [
        'an id outside the vocabulary',
        [ok, { sequence: b, tokens: [5, vocab], sample: true }],
        `entries[1].tokens[1] = ${vocab} is out of range`,
      ],
      ['a negative id', [ok, { sequence: b, tokens: [-1], sample: true }], 'entries[1].tokens[0] = -1 is out of range'],
      [
        'a non-integer id',
        [ok, { sequence: b, tokens: [1.5], sample: true }],
        'entries[1].tokens[0] is not an integer token id',
      ],
      [
        'context overflow',
        [ok, { sequence: b, tokens: corpus(f32Model, 13), sample: true }],
        'entries[1]: context size 16 exceeded: 4 tokens in the sequence + 13 new',
      ],
      [
        'a sequence of another model',
        [ok, { sequence: foreign, tokens: [5], sample: true }],
        'entries[1].sequence belongs to a different model',
      ],
      ['a closed sequence', [ok, { sequence: closed, tokens: [5], sample: true }], 'entries[1].sequence is closed'],
      [
        'a non-sequence',
        [ok, { sequence: {} as EngineSequence, tokens: [5], sample: true }],
        'entries[1].sequence must be a Sequence',
      ],
      [
        'a missing sample flag',
        [ok, { sequence: b, tokens: [5] } as unknown as BatchEntry],
        'entries[1].sample must be a boolean',
      ],
      [
        'tokens that are not ids',
        [ok, { sequence: b, tokens: 'abc' as unknown as TokenIds, sample: true }],
        'entries[1].tokens must be an array of token ids',
      ],
    ];
    for (const [, entries, message] of bad) {
      await expect(f32Model.step(entries)).rejects.toThrow(message);
      expect([a.position, b.position]).toEqual([5, 4]);
    }
    await expect(f32Model.step('nope' as unknown as BatchEntry[])).rejects.toThrow('entries must be an array');

    const busy = f32Model.createSequence();
    const generation = busy.generate({ tokens: corpus(f32Model, 3) }, { temperature: 0, maxTokens: 1000 });
    await expect(f32Model.step([ok, { sequence: busy, tokens: [5], sample: true }])).rejects.toThrow(
      'entries[1].sequence is busy generating',
    );
    busy.cancel();
    await generation;
    expect(a.position).toBe(5);

    const moreB = corpus(f32Model, 12, 40);
    const results = await f32Model.step([ok, { sequence: b, tokens: moreB, sample: true }]);
    expect(results[0].token).toBe(referenceGreedy(f32.weights, [...promptA, 7], 1, [])[0]);
    expect(results[1].token).toBe(referenceGreedy(f32.weights, [...promptB, ...moreB], 1, [])[0]);
    expect([a.position, b.position]).toEqual([6, 16]);
    await expect(f32Model.step([{ sequence: b, tokens: [5], sample: true }])).rejects.toThrow(
      'context size 16 exceeded',
    );
  });

  it('marks the sequences of a running step busy until it settles', async () => {
    const seq = f32Model.createSequence();
    const running = f32Model.step([{ sequence: seq, tokens: corpus(f32Model, 200), sample: true }]);
    expect(() => seq.reset()).toThrow('sequence is busy in a batched step');
    await expect(f32Model.step([{ sequence: seq, tokens: [5], sample: true }])).rejects.toThrow(
      'entries[0].sequence is busy in another batched step',
    );
    await running;
    expect(seq.position).toBe(200);
    seq.reset();
    expect(seq.position).toBe(0);
  });

  it('creates sequences with a smaller context and rejects sizes outside 1..model context', () => {
    const contextSize = f32Model.info().contextSize;
    expect(f32Model.createSequence({ contextSize: 1 }).contextSize).toBe(1);
    expect(f32Model.createSequence({ contextSize }).contextSize).toBe(contextSize);
    expect(f32Model.createSequence().contextSize).toBe(contextSize);
    expect(() => f32Model.createSequence({ contextSize: 0 })).toThrow(
      `options.contextSize must be in 1..${contextSize}`,
    );
    expect(() => f32Model.createSequence({ contextSize: contextSize + 1 })).toThrow(
      'options.contextSize must be in 1..',
    );
    expect(() => f32Model.createSequence({ contextSize: 2.5 })).toThrow('options.contextSize must be an integer');
  });
});
