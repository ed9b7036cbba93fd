// Constrained and observed sampling through the native engine on generated GGUF files: GBNF grammars (and JSON
// Schema grammars from jsonSchemaToGrammar) restrict what generate() and step() produce, logit bias, per-token
// logprobs against the log-softmax of evaluate()'s raw logits, and fork() sharing one prompt pass.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Ajv from 'ajv';

import { EngineModel, EngineSequence } from './engine';
import type { BatchEntryResult, GenerationStep } from './engine.types';
import { jsonObjectGrammar, jsonSchemaToGrammar } from './grammar';
import { TRAINING_CORPUS } from './testing/test-vocab';
import { TinyModel, writeTinyModel } from './testing/tiny-model';

// Generous: generating models is slow on a busy two-core machine (this is not a speed test).
jest.setTimeout(180_000);

let dir: string;
let spm: TinyModel;
let model: EngineModel;
let bpe: TinyModel;
let bpeModel: EngineModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-sampling-'));
  spm = await writeTinyModel(join(dir, 'spm.gguf'), { vocab: 'spm', contextLength: 1024 });
  bpe = await writeTinyModel(join(dir, 'bpe.gguf'), { vocab: 'bpe', seed: 5, contextLength: 1024 });
  model = await EngineModel.load(spm.path, { threads: 2 });
  bpeModel = await EngineModel.load(bpe.path, { threads: 2 });
});

afterAll(() => {
  model?.close();
  bpeModel?.close();
  rmSync(dir, { recursive: true, force: true });
});

function prompt(m: EngineModel, n: number): number[] {
  return m.tokenize(TRAINING_CORPUS).slice(0, n);
}

/** The error `fn` throws (native errors come from another realm, so instanceof checks do not apply). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

function logSoftmax(logits: Float32Array): number[] {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  return Array.from(logits, (x) => x - logZ);
}

describe('grammar', () => {
  const WORDS = 'root ::= word (" " word){2,4} "."\nword ::= "cat" | "dog" | [a-z]{1,3}';

  it.each([
    ['spm', () => model],
    ['bpe', () => bpeModel],
  ])('makes generate() follow a GBNF grammar and stop where it is complete (%s)', async (_name, get) => {
    const m = get();
    for (let seed = 1; seed <= 6; seed++) {
      const seq = m.createSequence();
      const result = await seq.generate(
        { tokens: prompt(m, 12) },
        { grammar: WORDS, temperature: 1.5, topK: 0, topP: 1, minP: 0, seed, maxTokens: 80 },
      );
      expect(result.text).toMatch(/^([a-z]{1,3}|cat|dog)( ([a-z]{1,3}|cat|dog)){2,4}\.$/);
      expect(result.finishReason).toBe('stop');
      seq.close();
    }
  });

  it('produces JSON that validates against the schema, through step() and generate()', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 12 },
        age: { type: 'integer' },
        tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, maxItems: 3 },
      },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const grammar = jsonSchemaToGrammar(schema);
    const validate = new Ajv().compile(schema);
    for (let seed = 1; seed <= 4; seed++) {
      const seq = model.createSequence();
      seq.setSampler({ grammar, temperature: 1.2, topK: 0, topP: 1, minP: 0, seed });
      let input = prompt(model, 10);
      let text = '';
      let ended = false;
      for (let i = 0; i < 300 && !ended; i++) {
        const [r] = await model.step([{ sequence: seq, tokens: input, sample: true }]);
        ended = r.endOfGeneration;
        text += r.text;
        input = [r.token];
      }
      expect(ended).toBe(true);
      const value: unknown = JSON.parse(text);
      expect(validate(value)).toBe(true);
      seq.close();
    }
    // generate() with the free-form JSON object grammar (json_object). The SentencePiece test vocabulary has every
    // byte as a fallback token, so any character the grammar starts can be completed.
    for (let seed = 1; seed <= 3; seed++) {
      const seq = model.createSequence();
      const result = await seq.generate(
        { tokens: prompt(model, 8) },
        { grammar: jsonObjectGrammar(), temperature: 1, seed, maxTokens: 200 },
      );
      if (result.finishReason === 'stop') expect(typeof JSON.parse(result.text)).toBe('object');
      else expect(result.text.startsWith('{')).toBe(true);
      seq.close();
    }
  });

  it('names the line and column of an invalid grammar', async () => {
    const seq = model.createSequence();
    expect(() => seq.setSampler({ grammar: 'root ::= "a"\nitem ::= [b-a]' })).toThrow(/line 2, column \d+/);
    expect(() => seq.setSampler({ grammar: 'root ::= missing' })).toThrow(/undefined rule 'missing'/);
    expect(thrown(() => seq.setSampler({ grammar: 42 as unknown as string })).name).toBe('TypeError');
    await expect(seq.generate({ tokens: [1, 2] }, { grammar: 'root ::= (' })).rejects.toThrow(/line 1, column/);
    seq.close();
  });

  it('starts the grammar again on reset() and on setSampler()', async () => {
    const seq = model.createSequence();
    const grammar = 'root ::= "ab"';
    seq.setSampler({ grammar, temperature: 0 });
    const run = async (): Promise<string> => {
      let input = prompt(model, 5);
      let text = '';
      for (let i = 0; i < 10; i++) {
        const [r] = await model.step([{ sequence: seq, tokens: input, sample: true }]);
        if (r.endOfGeneration) return text;
        text += r.text;
        input = [r.token];
      }
      return text;
    };
    expect(await run()).toBe('ab');
    seq.reset();
    expect(await run()).toBe('ab');
    seq.setSampler({ grammar, temperature: 0 });
    expect(await run()).toBe('ab');
    seq.close();
  });
});

describe('logit bias', () => {
  it('biases greedy choices and bans tokens', async () => {
    const ids = model.tokenize('cat', { addSpecial: false });
    const target = ids[ids.length - 1];
    const seq = model.createSequence();
    const forced = await seq.generate(
      { tokens: prompt(model, 8) },
      { temperature: 0, maxTokens: 5, logitBias: { [target]: 100 } },
    );
    expect(forced.ids).toEqual([target, target, target, target, target]);
    seq.reset();
    const plain = await seq.generate({ tokens: prompt(model, 8) }, { temperature: 0, maxTokens: 6 });
    const banned = plain.ids[0];
    seq.reset();
    const avoided = await seq.generate(
      { tokens: prompt(model, 8) },
      { temperature: 0, maxTokens: 6, logitBias: { [banned]: -100 } },
    );
    expect(avoided.ids).not.toContain(banned);
    seq.close();
  });

  it('rejects token ids outside the vocabulary with a RangeError naming the id', () => {
    const seq = model.createSequence();
    const vocab = model.info().vocabSize;
    const error = thrown(() => seq.setSampler({ logitBias: { [vocab]: 1 } }));
    expect(error.name).toBe('RangeError');
    expect(error.message).toContain(`token id ${vocab} is out of range`);
    expect(() => seq.setSampler({ logitBias: { 3: Number.NaN } })).toThrow(/logitBias\[3\]/);
    seq.close();
  });
});

describe('logprobs', () => {
  it('reports the log-softmax of the raw logits for the chosen token and the top N (step)', async () => {
    const p = prompt(model, 16);
    const reference = model.createSequence();
    const expected = logSoftmax(reference.evaluate(p));
    reference.close();
    const seq = model.createSequence();
    // Temperature, penalties and bias change the choice but not the reported distribution.
    seq.setSampler({ logprobs: 5, temperature: 0.7, seed: 3, repeatPenalty: 1.3, logitBias: { 7: 5 } });
    const [r]: BatchEntryResult[] = await model.step([{ sequence: seq, tokens: p, sample: true }]);
    expect(r.logprob).toBeCloseTo(expected[r.token], 4);
    const sorted = expected.map((lp, token) => ({ token, logprob: lp })).sort((a, b) => b.logprob - a.logprob);
    expect(r.topLogprobs?.map((t) => t.token)).toEqual(sorted.slice(0, 5).map((t) => t.token));
    r.topLogprobs?.forEach((t, i) => expect(t.logprob).toBeCloseTo(sorted[i].logprob, 4));
    seq.close();
  });

  it('reports them on every generate() step, and not at all unless asked', async () => {
    const seq = model.createSequence();
    const steps: GenerationStep[] = [];
    await seq.generate({ tokens: prompt(model, 6) }, { logprobs: 0, temperature: 0, maxTokens: 4 }, (s) =>
      steps.push(s),
    );
    expect(steps).toHaveLength(4);
    for (const s of steps) {
      expect(s.logprob).toBeLessThanOrEqual(0);
      expect(s.topLogprobs).toEqual([]);
    }
    seq.reset();
    const plain: GenerationStep[] = [];
    await seq.generate({ tokens: prompt(model, 6) }, { temperature: 0, maxTokens: 2 }, (s) => plain.push(s));
    expect(plain[0].logprob).toBeUndefined();
    expect(thrown(() => seq.setSampler({ logprobs: 21 })).name).toBe('RangeError');
    seq.close();
  });
});

describe('fork', () => {
  it('continues from the shared prompt without evaluating it again, independently of the original', async () => {
    const p = prompt(model, 40);
    const original = model.createSequence();
    original.setSampler({ temperature: 0 });
    const [first] = await model.step([{ sequence: original, tokens: p, sample: true }]);
    const forks: EngineSequence[] = [original.fork(), original.fork()];
    const seeded = [1, 2, 3].map(() => original.fork());
    expect(forks.map((f) => f.position)).toEqual([p.length, p.length]);

    // Greedy continuations agree with a sequence that evaluated the whole prompt itself.
    const alone = model.createSequence();
    const expected = await alone.generate({ tokens: p }, { temperature: 0, maxTokens: 6 });
    const continueGreedy = async (seq: EngineSequence): Promise<number[]> => {
      const out = [first.token];
      for (let i = 0; i < 5; i++) {
        const [r] = await model.step([{ sequence: seq, tokens: [out[out.length - 1]], sample: true }]);
        out.push(r.token);
      }
      return out;
    };
    expect(await continueGreedy(forks[0])).toEqual(expected.ids);
    // The original is untouched by the fork's tokens; closing a fork leaves the others alone.
    forks[0].close();
    expect(original.position).toBe(p.length);
    expect(await continueGreedy(original)).toEqual(expected.ids);
    expect(await continueGreedy(forks[1])).toEqual(expected.ids);

    // Different seeds diverge from the same prompt.
    const texts = new Set<string>();
    for (const [i, f] of seeded.entries()) {
      const sampling = { temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: i + 1 };
      const r = await f.generate({ tokens: [first.token] }, { ...sampling, maxTokens: 8 });
      texts.add(r.ids.join(','));
      f.close();
    }
    expect(texts.size).toBeGreaterThan(1);
    alone.close();
    original.close();
    forks[1].close();
  });

  it('refuses to fork a busy or closed sequence', async () => {
    const seq = model.createSequence();
    const running = seq.generate({ tokens: prompt(model, 4) }, { maxTokens: 50 });
    expect(() => seq.fork()).toThrow(/busy/);
    await running;
    seq.close();
    expect(() => seq.fork()).toThrow(/closed/);
  });
});
