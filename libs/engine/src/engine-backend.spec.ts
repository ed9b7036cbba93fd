// Backend selection by SOVREN_ENGINE_BACKEND (cpu | cuda | auto): the model reports the backend it runs on, auto
// falls back to the CPU while the device forward pass is not wired in, and asking for cuda where it cannot run is a
// clear load error (never a crash).
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

  it('chooses the CPU under auto (or when unset) while the CUDA forward pass is not wired in', async () => {
    expect(await backendWith('auto')).toMatch(/^cpu-/);
    expect(await backendWith(undefined)).toMatch(/^cpu-/);
  });

  it('fails the load with a clear error when cuda is asked for and cannot run', async () => {
    process.env[BACKEND_ENV] = 'cuda';
    await expect(EngineModel.load(tiny.path, { threads: 1 })).rejects.toThrow(/SOVREN_ENGINE_BACKEND=cuda: /);
  });

  it('takes LoadModelOptions.backend over the environment', async () => {
    process.env[BACKEND_ENV] = 'cuda';
    const model = await EngineModel.load(tiny.path, { threads: 1, backend: 'cpu' });
    expect(model.info().backend).toMatch(/^cpu-/);
    model.close();
  });

  it('rejects an unknown backend name, naming the variable', async () => {
    process.env[BACKEND_ENV] = 'gpu';
    await expect(EngineModel.load(tiny.path, { threads: 1 })).rejects.toThrow(
      /SOVREN_ENGINE_BACKEND \(or options.backend\) must be cpu, cuda or auto/,
    );
  });
});
