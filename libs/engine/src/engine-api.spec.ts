// The engine's TypeScript API over the native addon, on generated GGUF files: model info, tokenizer round trips,
// streaming generation, several sequences, cancellation, closing, context limits, seeded sampling, the event loop
// staying free, and the errors that bad files and bad arguments produce.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ENGINE_ADDON_ENV, EngineModel, resolveEngineAddonPath } from './engine';
import type { GenerationStep } from './engine.types';
import { TensorType } from './quant/tensor-type';
import { referenceForward, relativeL2 } from './testing/reference-forward';
import { TRAINING_CORPUS } from './testing/test-vocab';
import { TinyModel, writeBenchmarkModel, writeTinyModel } from './testing/tiny-model';

// Generous: model generation is slow on a busy two-core machine (this is not a speed test).
jest.setTimeout(180_000);

let dir: string;
let spm: TinyModel;
let bpe: TinyModel;
let spmModel: EngineModel;
let bpeModel: EngineModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-api-'));
  spm = await writeTinyModel(join(dir, 'spm.gguf'), { vocab: 'spm', contextLength: 2048, muteEndOfGeneration: true });
  bpe = await writeTinyModel(join(dir, 'bpe.gguf'), { vocab: 'bpe', type: TensorType.Q8_0, seed: 7 });
  spmModel = await EngineModel.load(spm.path, { threads: 2 });
  bpeModel = await EngineModel.load(bpe.path, { threads: 2, contextSize: 128 });
});

afterAll(() => {
  spmModel?.close();
  bpeModel?.close();
  rmSync(dir, { recursive: true, force: true });
});

const SAMPLE_TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'Le café était très chaud, et la crème brûlée était délicieuse.',
  '日本語のテキストも少し含めます。東京は日本の首都です。',
  'Emoji: 👋🏽 hello, 🎉 party, 🚀 launch, 🦙 unknown to the vocabulary.',
  'function add(a, b) {\n  return a + b;\n}\n\tconst   spaced = "  x  ";',
];

function prompt(model: EngineModel, n: number): number[] {
  return model.tokenize(TRAINING_CORPUS).slice(0, n);
}

describe('model info', () => {
  it('describes the hyper-parameters, weights, tokenizer and chat template of the file', () => {
    const info = spmModel.info();
    const c = spm.weights.config;
    expect(info).toMatchObject({
      architecture: 'llama',
      contextSize: 2048,
      trainingContextSize: 2048,
      embeddingLength: c.dim,
      blockCount: c.nLayers,
      feedForwardLength: c.hiddenDim,
      headCount: c.nHeads,
      headCountKv: c.nKvHeads,
      headDim: c.headDim,
      vocabSize: c.vocabSize,
      tokenizerModel: 'llama',
      chatTemplate: spm.vocab.chatTemplate,
      threads: 2,
    });
    const matrices =
      c.vocabSize * c.dim * 2 +
      c.nLayers * (c.dim * c.dim * 2 + c.dim * c.headDim * c.nKvHeads * 2 + 3 * c.dim * c.hiddenDim);
    const vectors = c.dim * (1 + 2 * c.nLayers);
    expect(info.parameterCount).toBe(matrices + vectors);
    expect(info.tensorTypes['F32']).toEqual({ tensors: 3 + 9 * c.nLayers, elements: matrices + vectors });
    expect(info.specialTokens).toMatchObject({ bos: spm.vocab.bosId, eos: spm.vocab.eosId, unk: 0, addBos: true });
    expect(info.specialTokens.eog).toContain(spm.vocab.eosId);
  });

  it('lists the end-of-turn token of a Llama 3 style vocabulary among the end-of-generation ids', () => {
    const info = bpeModel.info();
    expect(info.tokenizerModel).toBe('gpt2');
    expect(info.tensorTypes['Q8_0']?.tensors).toBe(16);
    expect(info.specialTokens.eot).toBe(bpe.vocab.eotId);
    expect(info.specialTokens.eog).toEqual(expect.arrayContaining([bpe.vocab.eosId, bpe.vocab.eotId]));
  });
});

describe('tokenizer through the binding', () => {
  it.each(SAMPLE_TEXTS)('round-trips %j with both vocabulary kinds', (text) => {
    for (const model of [spmModel, bpeModel]) {
      const ids = model.tokenize(text, { addSpecial: false });
      expect(ids.length).toBeGreaterThan(0);
      expect(model.detokenize(ids)).toBe(text);
    }
  });

  it('adds BOS only when asked and parses special tokens only when asked', () => {
    const bos = bpe.vocab.bosId;
    const eot = bpe.vocab.specialTokens['<|eot_id|>'];
    expect(bpeModel.tokenize('hi')[0]).toBe(bos);
    expect(bpeModel.tokenize('hi', { addSpecial: false })).not.toContain(bos);
    expect(bpeModel.tokenize('<|eot_id|>', { addSpecial: false, parseSpecial: true })).toEqual([eot]);
    expect(bpeModel.tokenize('<|eot_id|>', { addSpecial: false })).not.toContain(eot);
    expect(bpeModel.detokenize([eot])).toBe('');
    expect(bpeModel.detokenize([eot], { renderSpecial: true })).toBe('<|eot_id|>');
  });

  it('parses special tokens only inside the segments that ask for it, and tokenizes across segment edges as one text', () => {
    const bos = bpe.vocab.bosId;
    const eot = bpe.vocab.specialTokens['<|eot_id|>'];
    const template = (text: string) => ({ text, parseSpecial: true });
    const content = (text: string) => ({ text, parseSpecial: false });
    const injected = bpeModel.tokenizeSegments(
      [template('<|eot_id|>A: '), content('hi <|eot_id|> there'), template('<|eot_id|>')],
      { addSpecial: false },
    );
    expect(injected.filter((id) => id === eot)).toHaveLength(2);
    expect(injected[0]).toBe(eot);
    expect(injected.at(-1)).toBe(eot);
    expect(injected.slice(1, -1)).toEqual(bpeModel.tokenize('A: hi <|eot_id|> there', { addSpecial: false }));
    // Benign content gives exactly what tokenizing the joined text gives, BOS included (SentencePiece too).
    for (const model of [spmModel, bpeModel]) {
      const parts = ['[INST] ', 'Hello there', ' [/INST]'];
      expect(model.tokenizeSegments([template(parts[0]), content(parts[1]), template(parts[2])])).toEqual(
        model.tokenize(parts.join(''), { parseSpecial: true }),
      );
    }
    expect(bpeModel.tokenizeSegments([content('hi')])[0]).toBe(bos);
    expect(() => bpeModel.tokenizeSegments([{ text: 3 } as never])).toThrow('segments[0].text must be a string');
  });

  it('rejects token ids outside the vocabulary, naming the id', () => {
    expect(() => spmModel.detokenize([1, spm.weights.config.vocabSize])).toThrow(
      `token id ${spm.weights.config.vocabSize}`,
    );
    expect(() => spmModel.detokenize([1.5] as number[])).toThrow('ids[0] is not an integer token id');
  });
});

describe('generation', () => {
  it('streams every token through onToken before the promise settles, and the pieces add up to the text', async () => {
    const steps: GenerationStep[] = [];
    const result = await bpeModel
      .createSequence()
      .generate({ text: 'Le café' }, { temperature: 0, maxTokens: 24 }, (s) => steps.push(s));
    expect(result.completionTokens).toBe(result.ids.length);
    expect(steps.map((s) => s.id)).toEqual(result.ids);
    expect(steps.map((s) => s.text).join('')).toBe(result.text);
    expect(result.promptTokens).toBe(bpeModel.tokenize('Le café', { parseSpecial: true }).length);
    expect(result.timings.promptMs).toBeGreaterThan(0);
  });

  it('stops before a stop token id, leaving it out of the result', async () => {
    const input = { tokens: prompt(spmModel, 5) };
    const free = await spmModel.createSequence().generate(input, { temperature: 0, maxTokens: 12 });
    const stopAt = free.ids.findIndex((id, i) => i >= 2 && !free.ids.slice(0, i).includes(id));
    expect(stopAt).toBeGreaterThanOrEqual(2);
    const stopped = await spmModel
      .createSequence()
      .generate(input, { temperature: 0, maxTokens: 12, stopTokenIds: [free.ids[stopAt]] });
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.ids).toEqual(free.ids.slice(0, stopAt));
  });

  it('gives the same tokens for the same seed and different tokens for another seed', async () => {
    const params = { temperature: 1.0, topK: 0, topP: 1, minP: 0, maxTokens: 32 };
    const input = { tokens: prompt(spmModel, 4) };
    const a = await spmModel.createSequence().generate(input, { ...params, seed: 11 });
    const b = await spmModel.createSequence().generate(input, { ...params, seed: 11 });
    const c = await spmModel.createSequence().generate(input, { ...params, seed: 12 });
    expect(a.ids.length).toBeGreaterThan(4);
    expect(b.ids).toEqual(a.ids);
    expect(c.ids).not.toEqual(a.ids);
  });

  it('runs several sequences at once, each as if it ran alone', async () => {
    const prompts = [prompt(spmModel, 3), prompt(spmModel, 9), prompt(spmModel, 17)];
    const params = { temperature: 0.7, seed: 5, maxTokens: 40 };
    const alone = [];
    for (const p of prompts) alone.push((await spmModel.createSequence().generate({ tokens: p }, params)).ids);
    const sequences = prompts.map(() => spmModel.createSequence());
    const together = await Promise.all(sequences.map((s, i) => s.generate({ tokens: prompts[i] }, params)));
    expect(together.map((r) => r.ids)).toEqual(alone);
  });

  it('keeps each sequence’s KV cache separate when evaluations interleave', () => {
    const ids = prompt(spmModel, 24);
    const vocab = spm.weights.config.vocabSize;
    const reference = referenceForward(spm.weights, ids);
    const a = spmModel.createSequence();
    const b = spmModel.createSequence();
    b.evaluate(prompt(spmModel, 30).reverse());
    a.evaluate(ids.slice(0, 12));
    b.evaluate([5, 6, 7]);
    const last = a.evaluate(ids.slice(12));
    expect(relativeL2(last, reference[23])).toBeLessThan(1e-4);
    expect(last.length).toBe(vocab);
  });

  it('forgets everything on reset', () => {
    const ids = prompt(spmModel, 10);
    const seq = spmModel.createSequence();
    const first = seq.evaluate(ids);
    seq.evaluate([7, 8, 9]);
    seq.reset();
    expect(seq.position).toBe(0);
    expect(Array.from(seq.evaluate(ids))).toEqual(Array.from(first));
  });

  it('never blocks the Node event loop while a long generation runs', async () => {
    let ticks = 0;
    let tokensBeforeDone = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const result = await spmModel
        .createSequence()
        .generate({ tokens: prompt(spmModel, 4) }, { temperature: 0, maxTokens: 1500 }, () => tokensBeforeDone++);
      expect(result.finishReason).toBe('length');
      expect(tokensBeforeDone).toBe(1500);
      expect(ticks).toBeGreaterThan(10);
    } finally {
      clearInterval(timer);
    }
  });
});

describe('cancellation', () => {
  it('stops a generation cancelled right after it started', async () => {
    const seq = spmModel.createSequence();
    const pending = seq.generate({ tokens: prompt(spmModel, 4) }, { temperature: 0, maxTokens: 1000 });
    expect(seq.busy).toBe(true);
    seq.cancel();
    const result = await pending;
    // The native thread may already be decoding when cancel() lands (on a loaded machine it has produced a few
    // tokens by then, CI saw 2): it stops after its current token.
    expect(result.finishReason).toBe('cancelled');
    expect(result.ids.length).toBeLessThan(20);
    expect(result.completionTokens).toBe(result.ids.length);
    expect(seq.busy).toBe(false);
  });

  it('stops a running generation from its token callback, and the sequence stays usable', async () => {
    const seq = spmModel.createSequence();
    const result = await seq.generate({ tokens: prompt(spmModel, 4) }, { temperature: 0, maxTokens: 1000 }, () => {
      if (seq.position >= 10) seq.cancel();
    });
    expect(result.finishReason).toBe('cancelled');
    expect(result.completionTokens).toBeGreaterThanOrEqual(6);
    expect(result.completionTokens).toBeLessThan(1000);
    const next = await seq.generate({ tokens: [] }, { temperature: 0, maxTokens: 3 });
    expect(next.completionTokens).toBe(3);
  });

  it('stops a generation whose AbortSignal fires', async () => {
    const controller = new AbortController();
    const result = await spmModel
      .createSequence()
      .generate(
        { tokens: prompt(spmModel, 4) },
        { temperature: 0, maxTokens: 1000, signal: controller.signal },
        (step) => {
          if (step.id >= 0) controller.abort();
        },
      );
    expect(result.finishReason).toBe('cancelled');
  });

  it('refuses a second generation on a busy sequence', async () => {
    const seq = spmModel.createSequence();
    const running = seq.generate({ tokens: prompt(spmModel, 4) }, { temperature: 0, maxTokens: 200 });
    await expect(seq.generate({ tokens: [1] })).rejects.toThrow('sequence is busy generating');
    expect(() => seq.evaluate([1])).toThrow('sequence is busy generating');
    seq.cancel();
    await running;
  });

  it('rejects the generation when onToken throws, naming the callback error', async () => {
    const seq = spmModel.createSequence();
    await expect(
      seq.generate({ tokens: prompt(spmModel, 4) }, { temperature: 0, maxTokens: 50 }, () => {
        throw new Error('consumer went away');
      }),
    ).rejects.toThrow('onToken callback threw: consumer went away');
    expect(seq.busy).toBe(false);
  });
});

describe('context size', () => {
  it('refuses a prompt longer than the context, naming both sizes', async () => {
    const seq = bpeModel.createSequence();
    const ids = new Array(129).fill(5);
    expect(() => seq.evaluate(ids)).toThrow('prompt of 129 tokens exceeds context size 128');
    await expect(seq.generate({ tokens: ids })).rejects.toThrow('prompt of 129 tokens exceeds context size 128');
    expect(seq.position).toBe(0);
  });

  it('refuses tokens past the end of a partly filled context', () => {
    const seq = bpeModel.createSequence();
    seq.evaluate(new Array(100).fill(5));
    expect(() => seq.evaluate(new Array(40).fill(5))).toThrow(
      'context size 128 exceeded: 100 tokens in the sequence + 40 new',
    );
    expect(seq.position).toBe(100);
  });

  it('ends a generation that fills the context with finishReason length', async () => {
    const model = await EngineModel.load(spm.path, { threads: 2, contextSize: 128 });
    try {
      const seq = model.createSequence();
      const result = await seq.generate({ tokens: prompt(model, 120) }, { temperature: 0, maxTokens: 100 });
      expect(result.finishReason).toBe('length');
      // Tokens 1..8 are fed back at positions 120..127; the 9th has no room left and stays pending.
      expect(result.completionTokens).toBe(9);
      expect(seq.position).toBe(129);
      await expect(seq.generate({ tokens: [] })).rejects.toThrow('context size 128 exceeded');
    } finally {
      model.close();
    }
  });
});

describe('closing', () => {
  it('makes every later call on the model and its sequences throw "model is closed"', async () => {
    const model = await EngineModel.load(spm.path, { threads: 1, contextSize: 64 });
    const seq = model.createSequence();
    seq.evaluate([1, 2, 3]);
    model.close();
    expect(model.closed).toBe(true);
    expect(() => model.info()).toThrow('model is closed');
    expect(() => model.tokenize('x')).toThrow('model is closed');
    expect(() => model.createSequence()).toThrow('model is closed');
    expect(() => seq.evaluate([1])).toThrow('model is closed');
    await expect(seq.generate({ tokens: [1] })).rejects.toThrow('model is closed');
    model.close(); // closing twice is harmless
  });

  it('cancels a running generation when the model closes', async () => {
    const model = await EngineModel.load(spm.path, { threads: 1 });
    const seq = model.createSequence();
    const running = seq.generate({ tokens: prompt(model, 4) }, { temperature: 0, maxTokens: 1800 }, () =>
      model.close(),
    );
    const result = await running;
    expect(result.finishReason).toBe('cancelled');
    expect(() => seq.evaluate([1])).toThrow('model is closed');
  });

  it('closes one sequence without touching the others', () => {
    const a = spmModel.createSequence();
    const b = spmModel.createSequence();
    a.close();
    expect(() => a.evaluate([1])).toThrow('sequence is closed');
    expect(b.evaluate([1, 2]).length).toBe(spm.weights.config.vocabSize);
  });
});

describe('errors from bad files and arguments', () => {
  it('names the path of a file that does not exist', async () => {
    await expect(EngineModel.load(join(dir, 'absent.gguf'))).rejects.toThrow('absent.gguf');
  });

  it('names a missing tensor', async () => {
    const broken = await writeTinyModel(join(dir, 'missing.gguf'), { omitTensors: ['blk.1.ffn_up.weight'] });
    await expect(EngineModel.load(broken.path)).rejects.toThrow("model file is missing tensor 'blk.1.ffn_up.weight'");
  });

  it('names a tensor whose shape disagrees with the hyper-parameters', async () => {
    const broken = await writeTinyModel(join(dir, 'shape.gguf'), { declared: { feedForwardLength: 768 } });
    await expect(EngineModel.load(broken.path)).rejects.toThrow(
      "tensor 'blk.0.ffn_gate.weight' has shape [256, 512], expected [256, 768]",
    );
  });

  it('names an unsupported architecture', async () => {
    const broken = await writeTinyModel(join(dir, 'arch.gguf'), { declared: { architecture: 'mamba' } });
    await expect(EngineModel.load(broken.path)).rejects.toThrow("unsupported model architecture 'mamba'");
  });

  it('refuses a context larger than the model was trained for', async () => {
    await expect(EngineModel.load(bpe.path, { contextSize: 4096 })).rejects.toThrow(
      'context size 4096 exceeds the model',
    );
  });

  it('names bad arguments', async () => {
    const seq = spmModel.createSequence();
    expect(() => seq.evaluate([0, -1])).toThrow('token id -1 at index 1 is out of range');
    await expect(seq.generate({ tokens: [1] }, { temperature: 'hot' as unknown as number })).rejects.toThrow(
      'params.temperature must be a number',
    );
    await expect(seq.generate({} as { tokens: number[] })).rejects.toThrow('exactly one of text');
    await expect(seq.generate({ tokens: [] })).rejects.toThrow('generation needs a prompt of at least one token');
    await expect(EngineModel.load(spm.path, { threads: -1 })).rejects.toThrow('options.threads');
  });
});

describe('addon resolution', () => {
  it('says how to build the engine when no addon is found, and names a bad override', () => {
    const saved = process.env[ENGINE_ADDON_ENV];
    try {
      delete process.env[ENGINE_ADDON_ENV];
      expect(() => resolveEngineAddonPath(tmpdir())).toThrow('native engine not built: run `npx nx run native:build`');
      process.env[ENGINE_ADDON_ENV] = join(dir, 'nowhere.node');
      expect(() => resolveEngineAddonPath()).toThrow('nowhere.node');
    } finally {
      if (saved === undefined) delete process.env[ENGINE_ADDON_ENV];
      else process.env[ENGINE_ADDON_ENV] = saved;
    }
  });
});

describe('benchmark models', () => {
  it('streams a realistic-layout model to disk that the engine loads and runs', async () => {
    const shape = {
      name: 'bench-small',
      dim: 256,
      hiddenDim: 768,
      nLayers: 2,
      nHeads: 8,
      nKvHeads: 2,
      vocabSize: 2048,
      contextLength: 256,
    };
    const written = await writeBenchmarkModel(join(dir, 'bench.gguf'), { type: TensorType.Q4_K, shape });
    const model = await EngineModel.load(written.path, { threads: 2 });
    try {
      const info = model.info();
      expect(info.vocabSize).toBe(2048);
      expect(info.tensorTypes['Q4_K']?.tensors).toBe(2 + 7 * 2);
      expect(info.weightBytes).toBe(written.bytes);
      const result = await model.createSequence().generate({ text: 'Hello' }, { maxTokens: 8, seed: 1 });
      expect(result.promptTokens).toBeGreaterThan(0);
    } finally {
      model.close();
    }
  });
});
