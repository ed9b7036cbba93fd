// Weight storage modes (LoadModelOptions.weights): the huge-page copy and the in-place file mapping must give
// bit-identical logits, report their memory, reject unknown modes, and free cleanly on close.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EngineModel } from './engine';
import type { ModelInfo, WeightStorage } from './engine.types';
import { TensorType } from './quant/tensor-type';
import { TinyModel, writeTinyModel } from './testing/tiny-model';

// Generous: model generation is slow on a busy two-core machine (this is not a speed test).
jest.setTimeout(180_000);

let dir: string;
let q8: TinyModel;
let q4k: TinyModel;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-weights-'));
  q8 = await writeTinyModel(join(dir, 'q8.gguf'), { vocab: 'bpe', type: TensorType.Q8_0, seed: 11 });
  q4k = await writeTinyModel(join(dir, 'q4k.gguf'), { vocab: 'spm', type: TensorType.Q4_K, seed: 12 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logitsWith(
  tiny: TinyModel,
  weights: WeightStorage | undefined,
): Promise<{ info: ModelInfo; logits: Float32Array }> {
  const model = await EngineModel.load(tiny.path, weights === undefined ? { threads: 2 } : { threads: 2, weights });
  try {
    const ids = model.tokenize('The quick brown fox jumps over the lazy dog.').slice(0, 12);
    const seq = model.createSequence();
    const logits = seq.evaluate(ids, { allLogits: true });
    // One more token through the decode (batch-1) path as well.
    const next = seq.evaluate([ids[1] ?? 1]);
    const all = new Float32Array(logits.length + next.length);
    all.set(logits);
    all.set(next, logits.length);
    return { info: model.info(), logits: all };
  } finally {
    model.close();
  }
}

describe('weight storage', () => {
  it.each([
    ['Q8_0', () => q8],
    ['Q4_K', () => q4k],
  ])('gives identical logits from the huge-page copy and from the file mapping (%s)', async (_name, tiny) => {
    const copied = await logitsWith(tiny(), 'copy');
    const mapped = await logitsWith(tiny(), 'mmap');
    expect(copied.logits.length).toBe(mapped.logits.length);
    expect(copied.logits.every(Number.isFinite)).toBe(true);
    expect(Buffer.from(copied.logits.buffer).equals(Buffer.from(mapped.logits.buffer))).toBe(true);
    expect(copied.info.weights).toBe('copy');
    expect(mapped.info.weights).toBe('mmap');
    expect(mapped.info.weightCopyBytes).toBe(0);
    // The copy holds the tensor data section (weights plus alignment padding), which ends the file.
    expect(copied.info.weightCopyBytes).toBeGreaterThanOrEqual(copied.info.weightBytes);
    expect(copied.info.weightCopyBytes).toBeLessThan(copied.info.fileBytes);
  });

  it('copies by default', async () => {
    const byDefault = await logitsWith(q8, undefined);
    expect(byDefault.info.weights).toBe('copy');
    expect(byDefault.info.weightCopyBytes).toBeGreaterThan(0);
  });

  it.each<WeightStorage>(['copy', 'mmap'])(
    'frees the weights on close (%s): later calls throw "model is closed"',
    async (weights) => {
      for (let round = 0; round < 3; round++) {
        const model = await EngineModel.load(q8.path, { threads: 2, weights });
        const seq = model.createSequence();
        seq.evaluate([1, 2, 3]);
        model.close();
        expect(model.closed).toBe(true);
        expect(() => model.info()).toThrow('model is closed');
        expect(() => model.createSequence()).toThrow('model is closed');
        expect(() => seq.evaluate([4])).toThrow('model is closed');
        await expect(seq.generate({ tokens: [4] })).rejects.toThrow('model is closed');
      }
    },
  );

  it('rejects an unknown weights mode', async () => {
    await expect(EngineModel.load(q8.path, { weights: 'disk' as WeightStorage })).rejects.toThrow(
      "options.weights must be 'copy' or 'mmap'",
    );
  });
});
