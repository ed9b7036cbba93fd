// EngineSequence.copyPrefix (how the inference service's prefix cache restores a prompt's cached prefix): a sequence
// started from a copy of another's first n tokens must give the logits of a sequence that evaluated them itself, at
// every position after the prefix, and sample the same tokens (penalties included); bad calls change nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EngineModel, type EngineSequence } from './engine';
import type { SamplerSettings } from './engine.types';
import { TRAINING_CORPUS } from './testing/test-vocab';
import { writeTinyModel } from './testing/tiny-model';

jest.setTimeout(120_000);

let dir: string;
let model: EngineModel;
let other: EngineModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-prefix-'));
  const f32 = await writeTinyModel(join(dir, 'f32.gguf'), { contextLength: 512, muteEndOfGeneration: true });
  const second = await writeTinyModel(join(dir, 'other.gguf'), { contextLength: 128, seed: 5 });
  model = await EngineModel.load(f32.path, { threads: 2 });
  other = await EngineModel.load(second.path, { threads: 1 });
});

afterAll(() => {
  model?.close();
  other?.close();
  rmSync(dir, { recursive: true, force: true });
});

function corpus(n: number): number[] {
  const ids = model.tokenize(TRAINING_CORPUS.repeat(8)).slice(0, n);
  expect(ids.length).toBe(n);
  return ids;
}

/** Greedy (with penalties) tokens sampled by batched steps after `sequence` holds all but the prompt's last token. */
async function generate(sequence: EngineSequence, lastPromptToken: number, n: number): Promise<number[]> {
  const tokens: number[] = [];
  let next = lastPromptToken;
  for (let i = 0; i < n; i++) {
    const [result] = await model.step([{ sequence, tokens: [next], sample: true }]);
    tokens.push(result.token);
    next = result.token;
  }
  return tokens;
}

describe('EngineSequence.copyPrefix', () => {
  let prompt: number[];
  let prefix: number[];
  let rest: number[];
  beforeAll(() => {
    prompt = corpus(200);
    prefix = prompt.slice(0, 128);
    rest = prompt.slice(128);
  });

  it('gives the same logits as evaluating the prefix, at every position after it (F32)', () => {
    const fresh = model.createSequence({ contextSize: 256 });
    fresh.evaluate(prefix);
    const expected = fresh.evaluate(rest, { allLogits: true });

    // Through a snapshot sized to the prefix, as the cache keeps it.
    const source = model.createSequence({ contextSize: 256 });
    source.evaluate(prompt);
    const snapshot = model.createSequence({ contextSize: prefix.length });
    snapshot.copyPrefix(source, prefix);
    const restored = model.createSequence({ contextSize: 256 });
    restored.copyPrefix(snapshot, prefix);
    expect(restored.position).toBe(prefix.length);
    const actual = restored.evaluate(rest, { allLogits: true });

    expect(actual.length).toBe(rest.length * model.info().vocabSize);
    expect(Array.from(actual)).toEqual(Array.from(expected));
    for (const s of [fresh, source, snapshot, restored]) s.close();
  });

  it('samples the same tokens as a fresh sequence, the penalty history holding the restored tokens', async () => {
    const sampler: SamplerSettings = { temperature: 0, repeatPenalty: 1.5, penaltyLastN: 256, frequencyPenalty: 0.5 };
    const fresh = model.createSequence({ contextSize: 256 });
    fresh.setSampler(sampler);
    await model.step([{ sequence: fresh, tokens: prompt.slice(0, -1), sample: false }]);
    const expected = await generate(fresh, prompt[prompt.length - 1], 24);

    const snapshot = model.createSequence({ contextSize: 128 });
    snapshot.evaluate(prefix);
    const restored = model.createSequence({ contextSize: 256 });
    restored.setSampler(sampler);
    restored.copyPrefix(snapshot, prefix);
    await model.step([{ sequence: restored, tokens: prompt.slice(128, -1), sample: false }]);
    const actual = await generate(restored, prompt[prompt.length - 1], 24);

    expect(actual).toEqual(expected);
    for (const s of [fresh, snapshot, restored]) s.close();
  });

  it('reports the bytes of its KV cache', () => {
    const info = model.info();
    const sequence = model.createSequence({ contextSize: 64 });
    expect(sequence.cacheBytes).toBe(2 * info.blockCount * 64 * info.headCountKv * info.headDim * 4);
    sequence.close();
  });

  it('refuses a prefix longer than the source holds or the target can hold, changing nothing', () => {
    const source = model.createSequence({ contextSize: 256 });
    source.evaluate(prefix);
    const small = model.createSequence({ contextSize: 64 });
    small.evaluate(prompt.slice(0, 10));
    expect(() => small.copyPrefix(source, prefix)).toThrow(/exceeds this sequence's context 64/);
    expect(() => source.copyPrefix(small, prompt.slice(0, 11))).toThrow(/exceeds the source's position 10/);
    expect(small.position).toBe(10);
    expect(source.position).toBe(128);
    for (const s of [source, small]) s.close();
  });

  it('refuses a source of another model, a closed source and token ids out of range', () => {
    const target = model.createSequence({ contextSize: 64 });
    const foreign = other.createSequence();
    foreign.evaluate([1, 2, 3]);
    expect(() => target.copyPrefix(foreign, [1, 2, 3])).toThrow(/source belongs to a different model/);
    const closed = model.createSequence({ contextSize: 64 });
    closed.close();
    expect(() => target.copyPrefix(closed, [1])).toThrow(/source is closed/);
    const source = model.createSequence({ contextSize: 64 });
    source.evaluate([1, 2, 3]);
    expect(() => target.copyPrefix(source, [1, 1_000_000, 3])).toThrow(/token id 1000000, out of range/);
    expect(target.position).toBe(0);
    for (const s of [target, foreign, source]) s.close();
  });
});
