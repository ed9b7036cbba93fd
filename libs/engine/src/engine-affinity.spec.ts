// The engine's default thread count follows the CPU affinity it is started with (taskset, numactl, systemd
// CPUAffinity=): a model loaded without a thread count in a process pinned to one CPU computes on one thread.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { resolveEngineAddonPath } from './engine';
import { writeTinyModel } from './testing/tiny-model';

jest.setTimeout(120_000);

let dir: string;
let modelPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-engine-affinity-'));
  modelPath = (await writeTinyModel(join(dir, 'tiny.gguf'))).path;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads the model in a fresh `node` under `taskset -c <cpus>` with no thread count and returns its thread count. */
function defaultThreadsUnder(cpus: string): number {
  const script = `
    const m = { exports: {} };
    process.dlopen(m, process.argv[1]);
    m.exports.loadModel(process.argv[2], {}).then((model) => {
      process.stdout.write(JSON.stringify({ threads: model.info().threads }));
      model.close();
    });`;
  const run = spawnSync('taskset', ['-c', cpus, process.execPath, '-e', script, resolveEngineAddonPath(), modelPath], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`taskset -c ${cpus} node failed (${run.status}): ${run.stderr}`);
  return (JSON.parse(run.stdout) as { threads: number }).threads;
}

describe('engine threads and CPU affinity', () => {
  it('starts one compute thread under taskset -c 0', () => {
    expect(defaultThreadsUnder('0')).toBe(1);
  });
});
