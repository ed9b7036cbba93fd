// Backend selection by SOVREN_ENGINE_BACKEND (cpu | cuda | auto): the model reports the backend it runs on, auto
// stays on the CPU until the device forward pass is verified on a GPU, asking for cuda where it cannot run is a clear
// load error (never a crash), and where it can (tools/gpu-check.sh) its logits match the CPU's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ENGINE_BACKEND_ENV, EngineModel } from './engine';
import { TinyModel, writeTinyModel } from './testing/tiny-model';

jest.setTimeout(120_000);

const BACKEND_ENV = ENGINE_BACKEND_ENV;
let dir: string;
let tiny: TinyModel;
const savedBackend = process.env[BACKEND_ENV];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-backend-'));
  tiny = await writeTinyModel(join(dir, 'tiny.gguf'), { vocab: 'spm' });
});

afterEach(() => {
  if (savedBackend === undefined) delete process.env[BACKEND_ENV];
  else process.env[BACKEND_ENV] = savedBackend;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function backendWith(value: string | undefined): Promise<string> {
  if (value === undefined) delete process.env[BACKEND_ENV];
  else process.env[BACKEND_ENV] = value;
  const model = await EngineModel.load(tiny.path, { threads: 1 });
  try {
    return model.info().backend;
  } finally {
    model.close();
  }
}

describe('SOVREN_ENGINE_BACKEND', () => {
  it('runs on the CPU when cpu is asked for, and says so in ModelInfo.backend', async () => {
    expect(await backendWith('cpu')).toMatch(/^cpu-/);
  });

  it('chooses the CPU under auto (or when unset) until the CUDA forward pass is verified on a GPU', async () => {
    expect(await backendWith('auto')).toMatch(/^cpu-/);
    expect(await backendWith(undefined)).toMatch(/^cpu-/);
  });

  it('runs on the GPU when cuda is asked for and one is visible, else fails the load with a clear error', async () => {
    let gpu: EngineModel;
    try {
      gpu = await EngineModel.load(tiny.path, { threads: 1, backend: 'cuda' });
    } catch (error) {
      expect(String(error)).toMatch(/SOVREN_ENGINE_BACKEND=cuda: /);
      return;
    }
    const cpu = await EngineModel.load(tiny.path, { threads: 1, backend: 'cpu' });
    try {
      expect(gpu.info().backend).toBe('cuda');
      expect(gpu.info().deviceBytes).toBeGreaterThan(gpu.info().weightBytes);
      const ids = cpu.tokenize('The quick brown fox jumps over the lazy dog.').slice(0, 12);
      const want = cpu.createSequence().evaluate(ids, { allLogits: true });
      const got = gpu.createSequence().evaluate(ids, { allLogits: true });
      let diff = 0;
      let norm = 0;
      want.forEach((w, i) => {
        diff += (got[i] - w) ** 2;
        norm += w * w;
      });
      expect(Math.sqrt(diff / norm)).toBeLessThan(1e-2);
    } finally {
      gpu.close();
      cpu.close();
    }
  });

  it('takes LoadModelOptions.backend over the environment', async () => {
    process.env[BACKEND_ENV] = 'cuda';
    const model = await EngineModel.load(tiny.path, { threads: 1, backend: 'cpu' });
    expect(model.info().backend).toMatch(/^cpu-/);
    model.close();
  });

  it('rejects a negative KV cache size', async () => {
    await expect(EngineModel.load(tiny.path, { threads: 1, kvCacheTokens: -1 })).rejects.toThrow(
      /options.kvCacheTokens must be in 0\.\.2147483647/,
    );
  });

  it('rejects an unknown backend name, naming the variable', async () => {
    process.env[BACKEND_ENV] = 'gpu';
    await expect(EngineModel.load(tiny.path, { threads: 1 })).rejects.toThrow(
      /SOVREN_ENGINE_BACKEND \(or options.backend\) must be cpu, cuda or auto/,
    );
  });
});
