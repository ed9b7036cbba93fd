// The native forward pass against the float64 reference (testing/reference-forward.ts) on generated GGUF files:
// logits at every position, for every tensor type, both architectures and the optional llama features, and
// greedy generation token for token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EngineModel } from './engine';
import { TensorType } from './quant/tensor-type';
import { referenceForward, referenceGreedy, relativeL2 } from './testing/reference-forward';
import { TRAINING_CORPUS } from './testing/test-vocab';
import { TinyModel, TinyModelOptions, writeTinyModel } from './testing/tiny-model';

// Generous: generating models and the float64 reference are slow on a busy two-core machine (this is not a speed test).
jest.setTimeout(180_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-forward-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tinyModel(file: string, options: TinyModelOptions): Promise<{ tiny: TinyModel; model: EngineModel }> {
  const tiny = await writeTinyModel(join(dir, file), options);
  const model = await EngineModel.load(tiny.path, { threads: 2 });
  return { tiny, model };
}

/** The first `n` tokens of the training corpus, BOS first. */
function corpusTokens(model: EngineModel, n: number): number[] {
  const ids = model.tokenize(TRAINING_CORPUS);
  expect(ids.length).toBeGreaterThanOrEqual(n);
  return ids.slice(0, n);
}

/**
 * Relative L2 error of the native logits against the reference at every position of `ids`, evaluated in one pass
 * (chunk absent) or `chunk` tokens at a time.
 */
function logitErrors(model: EngineModel, tiny: TinyModel, ids: number[], chunk?: number): number[] {
  const vocab = tiny.weights.config.vocabSize;
  const seq = model.createSequence();
  const step = chunk ?? ids.length;
  const logits = new Float32Array(ids.length * vocab);
  for (let start = 0; start < ids.length; start += step) {
    logits.set(seq.evaluate(ids.slice(start, start + step), { allLogits: true }), start * vocab);
  }
  const reference = referenceForward(tiny.weights, ids);
  return ids.map((_, t) => relativeL2(logits.subarray(t * vocab, (t + 1) * vocab), reference[t]));
}

/** The same weights with float activations in every matmul (see ReferenceConfig.activationBlock). */
function withFloatActivations(tiny: TinyModel): TinyModel {
  return { ...tiny, weights: { ...tiny.weights, config: { ...tiny.weights.config, activationBlock: undefined } } };
}

function worstLogitError(model: EngineModel, tiny: TinyModel, ids: number[]): number {
  return Math.max(...logitErrors(model, tiny, ids));
}

describe('F32 llama with a SentencePiece vocabulary', () => {
  let tiny: TinyModel;
  let model: EngineModel;
  beforeAll(async () => ({ tiny, model } = await tinyModel('f32-spm.gguf', { type: TensorType.F32, vocab: 'spm' })));
  afterAll(() => model.close());

  it('matches the float64 reference within 1e-4 at every position of a 64-token sequence', () => {
    expect(worstLogitError(model, tiny, corpusTokens(model, 64))).toBeLessThan(1e-4);
  });

  it('gives the same logits whether a sequence is evaluated in one pass or in chunks through its KV cache', () => {
    const ids = corpusTokens(model, 64);
    const vocab = tiny.weights.config.vocabSize;
    const reference = referenceForward(tiny.weights, ids);
    const seq = model.createSequence();
    let start = 0;
    for (const size of [1, 20, 1, 42]) {
      const chunk = seq.evaluate(ids.slice(start, start + size), { allLogits: true });
      for (let t = 0; t < size; t++) {
        expect(relativeL2(chunk.subarray(t * vocab, (t + 1) * vocab), reference[start + t])).toBeLessThan(1e-4);
      }
      start += size;
    }
    expect(seq.position).toBe(64);
  });

  it('returns only the last position when all logits are not asked for', () => {
    const ids = corpusTokens(model, 10);
    const last = model.createSequence().evaluate(ids);
    expect(last.length).toBe(tiny.weights.config.vocabSize);
    expect(relativeL2(last, referenceForward(tiny.weights, ids)[9])).toBeLessThan(1e-4);
  });

  it('generates greedily token for token as the reference does', async () => {
    const prompt = corpusTokens(model, 8);
    const eog = model.info().specialTokens.eog;
    const expected = referenceGreedy(tiny.weights, prompt, 48, eog);
    const result = await model.createSequence().generate({ tokens: prompt }, { temperature: 0, maxTokens: 48 });
    expect(result.ids).toEqual(expected);
    expect(result.finishReason).toBe(expected.length === 48 ? 'length' : 'stop');
  });

  it('continues a conversation: a second generate sees the first exchange, as the reference does', async () => {
    const first = corpusTokens(model, 6);
    const second = corpusTokens(model, 12).slice(6);
    const eog = model.info().specialTokens.eog;
    const seq = model.createSequence();
    const r1 = await seq.generate({ tokens: first }, { temperature: 0, maxTokens: 5 });
    const r2 = await seq.generate({ tokens: second }, { temperature: 0, maxTokens: 5 });
    expect(r1.ids).toEqual(referenceGreedy(tiny.weights, first, 5, eog));
    expect(r2.ids).toEqual(referenceGreedy(tiny.weights, [...first, ...r1.ids, ...second], 5, eog));
  });
});

describe.each([
  ['F16', TensorType.F16],
  ['BF16', TensorType.BF16],
])('%s weights', (name, type) => {
  it('match the float64 reference on the dequantised weights within 1e-4 at every position', async () => {
    const { tiny, model } = await tinyModel(`${name}.gguf`, { type, vocab: 'bpe' });
    try {
      expect(model.info().tensorTypes[name]?.tensors).toBe(2 + 7 * 2);
      expect(worstLogitError(model, tiny, corpusTokens(model, 64))).toBeLessThan(1e-4);
    } finally {
      model.close();
    }
  });
});

// Prompt passes of Q8_0 / Q4_0 / Q6_K multiply the dequantised weights with float activations (the packed GEMM);
// those of Q4_K use integer kernels (the dot tiles, or the 16-token integer GEMM on AVX-512) with activations rounded
// to int8, exactly as decoding does.
describe.each<[string, TensorType, 'float' | 'int8']>([
  ['Q8_0', TensorType.Q8_0, 'float'],
  ['Q4_0', TensorType.Q4_0, 'float'],
  ['Q4_K', TensorType.Q4_K, 'int8'],
  ['Q6_K', TensorType.Q6_K, 'float'],
])('%s weights', (name, type, promptActivations) => {
  let tiny: TinyModel;
  let model: EngineModel;
  beforeAll(async () => ({ tiny, model } = await tinyModel(`${name}.gguf`, { type, vocab: 'bpe' })));
  afterAll(() => model.close());

  it(`match the float64 reference with ${promptActivations} activations at every position of a 64-token prompt`, () => {
    expect(model.info().tensorTypes[name]?.tensors).toBe(2 + 7 * 2);
    if (promptActivations === 'float') {
      expect(worstLogitError(model, withFloatActivations(tiny), corpusTokens(model, 64))).toBeLessThan(1e-2);
      return;
    }
    // int8 activations: bounds as for decoding below (a rounding boundary can move one activation a whole step).
    const errors = logitErrors(model, tiny, corpusTokens(model, 64));
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(1e-2);
    expect(Math.max(...errors)).toBeLessThan(3e-2);
  });

  // Decoding (one token per pass) multiplies the quantised weights with activations rounded to int8, as ggml does;
  // the reference models that rounding (ReferenceConfig.activationBlock), so most positions agree to float
  // precision. Where float32 and float64 land on opposite sides of a rounding boundary, one activation moves by a
  // whole step and the difference travels on through the KV cache: hence a bound on the mean over positions and a
  // looser one on the worst.
  it('match the reference with int8 activations within 1e-2 (mean) when decoding token by token', () => {
    const errors = logitErrors(model, tiny, corpusTokens(model, 32), 1);
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(1e-2);
    expect(Math.max(...errors)).toBeLessThan(3e-2);
  });
});

describe('llama-family variants', () => {
  it('qwen2 (QKV bias, NeoX rope) matches the reference within 1e-4', async () => {
    const { tiny, model } = await tinyModel('qwen2.gguf', { architecture: 'qwen2', vocab: 'bpe' });
    try {
      expect(model.info().architecture).toBe('qwen2');
      expect(worstLogitError(model, tiny, corpusTokens(model, 48))).toBeLessThan(1e-4);
    } finally {
      model.close();
    }
  });

  it('tied embeddings, linear rope scaling and rope frequency factors match the reference within 1e-4', async () => {
    const { tiny, model } = await tinyModel('variants.gguf', {
      tiedEmbeddings: true,
      ropeScalingFactor: 4,
      ropeFreqFactors: true,
      hiddenDim: 768,
      nHeads: 8,
      nKvHeads: 1,
    });
    try {
      const info = model.info();
      expect(info.ropeFreqScale).toBeCloseTo(0.25, 6);
      expect(info.headCountKv).toBe(1);
      expect(worstLogitError(model, tiny, corpusTokens(model, 48))).toBeLessThan(1e-4);
    } finally {
      model.close();
    }
  });
});
