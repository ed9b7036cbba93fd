// EngineModel.embed against the float64 references: BERT-family encoders (testing/bert-reference.ts) in F32, F16
// and Q8_0, every pooling, with and without normalisation, batches of mixed lengths; llama-family decoders' pooled
// final-norm hidden states (testing/reference-forward.ts); the WordPiece tokenizer; and malformed encoder files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EngineModel } from './engine';
import { TensorType } from './quant/tensor-type';
import {
  bertReferenceEmbedding,
  poolReference,
  type BertArchitecture,
  type ReferencePooling,
} from './testing/bert-reference';
import { writeTinyBert, type TinyBert, type TinyBertOptions } from './testing/bert-model-writer';
import { ReferenceSequence, relativeL2 } from './testing/reference-forward';
import { writeTinyModel } from './testing/tiny-model';

jest.setTimeout(180_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-embed-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function tinyBert(file: string, options: TinyBertOptions): Promise<{ tiny: TinyBert; model: EngineModel }> {
  const tiny = await writeTinyBert(join(dir, file), options);
  const model = await EngineModel.load(tiny.path, { threads: 2 });
  return { tiny, model };
}

/** Deterministic token ids in 5..vocab-1 (past the special tokens), wrapped in [CLS] ... [SEP]. */
function inputOf(length: number, seed: number, vocabSize: number): number[] {
  const ids = [2];
  for (let i = 0; i < length - 2; i++) ids.push(5 + ((seed * 131 + i * 37) % (vocabSize - 5)));
  ids.push(3);
  return ids;
}

const MIXED_LENGTHS = [3, 17, 64, 9];

/**
 * A pass of at least 64 rows (the batch below has 93) multiplies quantised weights with float activations (the
 * packed-panel GEMM path; smaller passes round activations to int8), so the reference runs on the dequantised
 * weights with float activations. Measured: ~3e-7 for Q8_0, ~1e-7 for F32.
 */
function withFloatActivations(tiny: TinyBert): TinyBert {
  return { ...tiny, weights: { ...tiny.weights, config: { ...tiny.weights.config, activationBlock: undefined } } };
}

describe.each<[BertArchitecture, TensorType, number]>([
  ['bert', TensorType.F32, 1e-5],
  ['nomic-bert', TensorType.F32, 1e-5],
  ['bert', TensorType.F16, 1e-4],
  ['nomic-bert', TensorType.F16, 1e-4],
  ['bert', TensorType.Q8_0, 1e-4],
  ['nomic-bert', TensorType.Q8_0, 1e-4],
])('%s encoder with %s weights', (architecture, type, tolerance) => {
  let tiny: TinyBert;
  let model: EngineModel;
  beforeAll(async () => {
    ({ tiny, model } = await tinyBert(`${architecture}-${type}.gguf`, { architecture, type, pooling: 'cls' }));
    tiny = withFloatActivations(tiny);
  });
  afterAll(() => model.close());

  it('says it is an embedding model with the file pooling', () => {
    const info = model.info();
    expect(info).toMatchObject({ architecture, kind: 'embedding', pooling: 'cls', embeddingLength: 128 });
    expect(info.vocabSize).toBe(tiny.weights.config.vocabSize);
    expect(info.tokenizerModel).toBe('bert');
  });

  it(`matches the float64 reference within ${tolerance} for a batch of mixed lengths, every pooling`, async () => {
    const vocab = tiny.weights.config.vocabSize;
    const inputs = MIXED_LENGTHS.map((n, i) => inputOf(n, i + 1, vocab));
    for (const pooling of ['mean', 'cls', 'last'] as ReferencePooling[]) {
      const vectors = await model.embed(inputs, { pooling, normalize: true });
      expect(vectors).toHaveLength(inputs.length);
      vectors.forEach((vector, i) => {
        expect(Object.prototype.toString.call(vector)).toBe('[object Float32Array]');
        expect(relativeL2(vector, bertReferenceEmbedding(tiny.weights, inputs[i], pooling, true))).toBeLessThan(
          tolerance,
        );
      });
    }
  });
});

describe.each<[BertArchitecture, TensorType, 'float' | 'int8']>([
  ['bert', TensorType.Q4_K, 'int8'],
  ['nomic-bert', TensorType.Q6_K, 'float'],
])('%s encoder with K-quant (%s) weights in rows of 256', (architecture, type, activations) => {
  it(`matches the float64 reference with ${activations} activations within 1e-4`, async () => {
    const { tiny, model } = await tinyBert(`${architecture}-k${type}.gguf`, {
      architecture,
      type,
      dim: 256,
      hiddenDim: 512,
    });
    try {
      // Q4_K passes of any size use integer kernels (activations rounded to int8, as the reference can);
      // Q6_K passes of 64+ rows the float GEMM.
      const reference = activations === 'float' ? withFloatActivations(tiny) : tiny;
      const inputs = MIXED_LENGTHS.map((n, i) => inputOf(n, i + 5, tiny.weights.config.vocabSize));
      const vectors = await model.embed(inputs);
      vectors.forEach((vector, i) =>
        expect(relativeL2(vector, bertReferenceEmbedding(reference.weights, inputs[i], 'mean', true))).toBeLessThan(
          1e-4,
        ),
      );
    } finally {
      model.close();
    }
  });
});

describe('an F32 bert encoder', () => {
  let tiny: TinyBert;
  let model: EngineModel;
  beforeAll(async () => ({ tiny, model } = await tinyBert('bert-mean.gguf', { architecture: 'bert' })));
  afterAll(() => model.close());

  it('pools by the file pooling_type (mean) and normalises unless told not to', async () => {
    const input = inputOf(20, 7, tiny.weights.config.vocabSize);
    const [normalised] = await model.embed([input]);
    const [raw] = await model.embed([input], { normalize: false });
    expect(relativeL2(normalised, bertReferenceEmbedding(tiny.weights, input, 'mean', true))).toBeLessThan(1e-5);
    expect(relativeL2(raw, bertReferenceEmbedding(tiny.weights, input, 'mean', false))).toBeLessThan(1e-5);
    expect(Math.hypot(...normalised)).toBeCloseTo(1, 5);
    expect(Math.hypot(...raw)).not.toBeCloseTo(1, 2);
  });

  it('embeds each input on its own: a batch gives what the inputs give alone', async () => {
    const vocab = tiny.weights.config.vocabSize;
    const inputs = MIXED_LENGTHS.map((n, i) => inputOf(n, i + 3, vocab));
    const batch = await model.embed(inputs);
    for (let i = 0; i < inputs.length; i++) {
      const [alone] = await model.embed([inputs[i]]);
      expect(relativeL2(batch[i], alone)).toBeLessThan(1e-6);
    }
  });

  it('runs batches larger than one pass (512 rows) and inputs as long as the context', async () => {
    const vocab = tiny.weights.config.vocabSize;
    const inputs = Array.from({ length: 12 }, (_, i) => inputOf(64, i, vocab));
    const vectors = await model.embed(inputs);
    expect(relativeL2(vectors[11], bertReferenceEmbedding(tiny.weights, inputs[11], 'mean', true))).toBeLessThan(1e-5);
  });

  it('tokenizes text with WordPiece: [CLS] first, [SEP] last, whole words and pieces, [UNK] for the rest', () => {
    const ids = model.tokenize('The dogs, Jumps!');
    const pieces = ids.map((id) => tiny.vocab.tokens[id]);
    expect(pieces).toEqual(['[CLS]', '▁the', '▁dog', 's', '▁,', '▁jumps', '▁!', '[SEP]']);
    expect(model.detokenize(ids)).toBe('the dogs , jumps !');
    expect(model.tokenize('€', { addSpecial: false })).toEqual([1]);
  });

  it("reads [CLS] / [SEP] from llama.cpp's cls_token_id / seperator_token_id keys and wraps text in them", async () => {
    const path = join(dir, 'bert-converter-keys.gguf');
    await writeTinyBert(path, { converterSpecialKeys: true });
    const converted = await EngineModel.load(path, { threads: 1 });
    try {
      expect(converted.info().specialTokens).toMatchObject({ bos: 2, eos: 3, unk: 1, addBos: true, addEos: true });
      expect(converted.tokenize('The dogs')).toEqual(model.tokenize('The dogs'));
    } finally {
      converted.close();
    }
  });

  it('names the input and the problem for an empty input, a too-long one and an unknown token id', async () => {
    await expect(model.embed([[2, 3], []])).rejects.toThrow('inputs[1] must not be empty');
    await expect(model.embed([inputOf(65, 1, 300)])).rejects.toThrow(
      'inputs[0] has 65 tokens, more than the context size 64',
    );
    await expect(model.embed([[2, 300]])).rejects.toThrow('inputs[0][1] = 300 is out of range');
    await expect(model.embed([[2]], { pooling: 'max' as ReferencePooling })).rejects.toThrow(
      "options.pooling must be 'mean', 'cls' or 'last'",
    );
  });

  it('has no sequences: generation APIs say it is an embedding model', () => {
    expect(() => model.createSequence()).toThrow('model is an embedding model (bert)');
  });
});

describe('malformed encoder files', () => {
  it.each<[string, TinyBertOptions, string]>([
    [
      'a missing tensor',
      { omitTensors: ['blk.1.attn_output_norm.bias'] },
      "missing tensor 'blk.1.attn_output_norm.bias'",
    ],
    ['a missing position table', { omitTensors: ['position_embd.weight'] }, "missing tensor 'position_embd.weight'"],
    [
      'an embedding length that disagrees with the tensors',
      { declared: { embeddingLength: 96 } },
      "tensor 'token_embd.weight' has shape [128, 272], expected [96, n_vocab]",
    ],
    ['a head count that does not divide the width', { declared: { headCount: 5 } }, 'not a multiple of head_count 5'],
    ['an unknown pooling type', { declared: { poolingType: 4 } }, "pooling_type' = 4 is not supported"],
    ['causal attention', { declared: { causal: true } }, "'bert.attention.causal' is true"],
    [
      'a nomic-bert without its fused projection',
      { architecture: 'nomic-bert', omitTensors: ['blk.0.attn_qkv.weight'] },
      "missing tensor 'blk.0.attn_q.weight'",
    ],
  ])('rejects %s, naming it', async (_, options, message) => {
    const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.gguf`);
    await writeTinyBert(path, options);
    await expect(EngineModel.load(path, { threads: 1 })).rejects.toThrow(message);
  });
});

describe('a llama-family decoder', () => {
  it('embeds with the final-norm hidden states, last token by default or mean, like the float64 reference', async () => {
    const tiny = await writeTinyModel(join(dir, 'llama-embed.gguf'), { type: TensorType.F32 });
    const model = await EngineModel.load(tiny.path, { threads: 2 });
    try {
      expect(model.info()).toMatchObject({ kind: 'text', pooling: 'last' });
      const inputs = [model.tokenize('The quick brown fox'), model.tokenize('Le café était très chaud, et la crème')];
      const reference = (ids: number[]): Float64Array => {
        const seq = new ReferenceSequence(tiny.weights);
        const dim = tiny.weights.config.dim;
        const rows = new Float64Array(ids.length * dim);
        ids.forEach((id, t) => rows.set(seq.hidden(id), t * dim));
        return rows;
      };
      const last = await model.embed(inputs);
      const mean = await model.embed(inputs, { pooling: 'mean', normalize: false });
      inputs.forEach((ids, i) => {
        const rows = reference(ids);
        const dim = tiny.weights.config.dim;
        expect(relativeL2(last[i], poolReference(rows, ids.length, dim, 'last', true))).toBeLessThan(1e-5);
        expect(relativeL2(mean[i], poolReference(rows, ids.length, dim, 'mean', false))).toBeLessThan(1e-5);
      });
      // Generation still works on the same model afterwards.
      expect(model.createSequence().evaluate(inputs[0], { allLogits: false })).toHaveLength(
        tiny.weights.config.vocabSize,
      );
    } finally {
      model.close();
    }
  });
});
