// gpuMetrics() through the real addon: on this GPU-less machine (NVML library absent) it answers "not available"
// with the reason, every time and under concurrent calls; with the fake libnvidia-ml that the native build puts
// beside the addon it returns each GPU's readings in base units (own process: NVML is initialised once per
// process); a missing addon is a reason, not an exception.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { resolveEngineAddonPath } from './engine';
import { NvmlGpuMetrics, readNvmlGpuMetrics } from './gpu-metrics';

// NVML is opened once per process from $SOVREN_NVML_LIBRARY (read by the native side, which does not see Jest's
// process.env), so each library choice runs in a child process of its own.
function inChildProcess(env: NodeJS.ProcessEnv, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', script],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(String(stdout));
      },
    );
  });
}

/** Calls gpuMetrics() `times` times at once in a fresh process with the given NVML library. */
async function gpuMetricsInChild(nvmlLibrary: string | undefined, times: number): Promise<NvmlGpuMetrics[]> {
  const script = `
    const m = { exports: {} };
    process.dlopen(m, ${JSON.stringify(resolveEngineAddonPath())});
    Promise.all(Array.from({ length: ${times} }, () => m.exports.gpuMetrics()))
      .then((all) => process.stdout.write(JSON.stringify(all)));`;
  const env: NodeJS.ProcessEnv = { SOVREN_NVML_LIBRARY: nvmlLibrary ?? '' };
  return JSON.parse(await inChildProcess(env, script)) as NvmlGpuMetrics[];
}

describe('readNvmlGpuMetrics', () => {
  it('reports NVML as not available, naming the library, when libnvidia-ml cannot be loaded', async () => {
    const [result] = await gpuMetricsInChild('/no/such/dir/libnvidia-ml.so.1', 1);
    expect(result).toEqual({
      available: false,
      reason: expect.stringMatching(/^NVML not available: cannot load \/no\/such\/dir\/libnvidia-ml\.so\.1 \(.+\)$/),
    });
  });

  it('is safe to call repeatedly and concurrently (same answer every time)', async () => {
    const first = await readNvmlGpuMetrics();
    expect(typeof first.available).toBe('boolean');
    const concurrent = await Promise.all(Array.from({ length: 32 }, () => readNvmlGpuMetrics()));
    for (const answer of concurrent) expect(answer).toEqual(first);
    for (let i = 0; i < 20; i += 1) expect(await readNvmlGpuMetrics()).toEqual(first);
  });

  it('turns a native engine that cannot be loaded into a reason', async () => {
    const result = await readNvmlGpuMetrics(() => {
      throw new Error('native engine not built: run `npx nx run native:build`');
    });
    expect(result).toEqual({
      available: false,
      reason: 'NVML not available: native engine not built: run `npx nx run native:build`',
    });
    expect(await readNvmlGpuMetrics(() => ({}))).toMatchObject({
      available: false,
      reason: expect.stringContaining('predates gpuMetrics()'),
    });
  });

  it('returns every GPU of the fake libnvidia-ml built beside the addon, leaving out what a GPU cannot report', async () => {
    const fake = join(dirname(resolveEngineAddonPath()), 'libsovren_fake_nvml.so');
    expect(existsSync(fake)).toBe(true); // built by native/CMakeLists.txt with the addon
    const answers = await gpuMetricsInChild(fake, 16);
    expect(answers).toHaveLength(16);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]).toEqual({
      available: true,
      gpus: [
        {
          index: 0,
          name: 'NVIDIA H100 80GB HBM3',
          uuid: 'GPU-6f1a2b3c-0000-1111-2222-333344445555',
          utilizationPercent: 37,
          memoryUsedBytes: 10 * 1024 ** 3,
          memoryTotalBytes: 81559 * 1024 ** 2,
          temperatureCelsius: 45,
          powerWatts: 119.85,
          eccCorrectedErrors: 7,
          eccUncorrectedErrors: 2,
        },
        {
          index: 1,
          name: 'NVIDIA L4',
          uuid: 'GPU-7a8b9c0d-6666-7777-8888-999900001111',
          utilizationPercent: 0,
          memoryUsedBytes: 4 * 1024 ** 2,
          memoryTotalBytes: 23034 * 1024 ** 2,
          temperatureCelsius: 33,
        },
      ],
    });
  });
});
