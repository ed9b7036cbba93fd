// The built inference service (dist/apps/inference/main.js, `npx nx build inference`) started as a process for a
// benchmark, as systemd runs it: private nats-server with JetStream, throwaway PostgreSQL database, temp SOVREN_ROOT
// holding one model under the id `bench`, auth.validate answered by the stand-in of @sovren/messaging/testing for
// one API key (the guard caches its answer, so auth is no part of what is measured).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AuthValidateResponder } from '@sovren/messaging/testing';
import { createThrowawayDatabase, eventually, freePort, NatsTestServer, StopWaiting } from '@sovren/testing';

import type { ModelShapeOptions } from '../common/model-shape-args';
import { startServiceBundle } from '../common/service-bundle';

export const BENCH_MODEL_ID = 'bench';

/** The model the inference benchmarks use unless told otherwise: 124 M parameters, F16, Llama layout. */
export const BENCH_MODEL_SHAPE: ModelShapeOptions = {
  type: 'F16',
  dim: 768,
  ff: 2048,
  layers: 12,
  heads: 12,
  kvHeads: 4,
  vocab: 32000,
  threads: 0,
  dir: resolve(__dirname, '../../../tmp/bench-models'),
};

/** The parts of GET /api/v1/inference/models/:id the benchmarks read. */
export interface ModelMetadata {
  state: string;
  error: string | null;
  file_bytes: number;
  loaded: null | { parameter_count: number; backend: string; threads: number };
}

export interface InferenceProcess {
  url: string;
  apiKey: string;
  model: ModelMetadata;
  /** Stops the service and removes everything it was given. */
  dispose(): Promise<void>;
}

/** Starts the service with `modelPath` as model `bench` (loaded at start) and `env` on top of the defaults. */
export async function startInferenceProcess(modelPath: string, env: Record<string, string>): Promise<InferenceProcess> {
  const nats = await NatsTestServer.start({ jetstream: true });
  const database = await createThrowawayDatabase({ label: 'bench' });
  const root = mkdtempSync(join(tmpdir(), 'sovren-bench-inference-'));
  const auth = await AuthValidateResponder.start(nats.url);
  const apiKey = auth.apiKey({ scopes: ['inference:generate'] }).credential;
  mkdirSync(join(root, 'models', 'llms'), { recursive: true });
  symlinkSync(modelPath, join(root, 'models', 'llms', `${BENCH_MODEL_ID}.gguf`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = startServiceBundle('inference', {
    SOVREN_LOG_LEVEL: 'warn',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: nats.url,
    SOVREN_INFERENCE_PORT: String(port),
    SOVREN_INFERENCE_LOAD_AT_START: BENCH_MODEL_ID,
    ...env,
  });
  const dispose = async (): Promise<void> => {
    await child.stop();
    await auth.close();
    await nats.dispose();
    rmSync(root, { recursive: true, force: true });
    await database.drop();
  };
  try {
    const model = await eventually(
      `model ${BENCH_MODEL_ID} to be loaded`,
      async () => {
        if (child.exited) throw new StopWaiting('the inference process exited during start-up');
        const response = await fetch(`${url}/api/v1/inference/models/${BENCH_MODEL_ID}`, {
          headers: { authorization: `Bearer ${apiKey}` },
        });
        const data = ((await response.json()) as { data?: ModelMetadata }).data;
        if (data?.state === 'failed') throw new StopWaiting(`model ${BENCH_MODEL_ID} failed to load: ${data.error}`);
        return data?.state === 'loaded' && data.loaded !== null && data;
      },
      { timeoutMs: 600_000, intervalMs: 500 },
    );
    return { url, apiKey, model, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** "123M parameters, 240 MiB file, cpu, 2 threads": the loaded model as the service describes it. */
export function describeModel(model: ModelMetadata): string {
  const info = model.loaded;
  return (
    `${Math.round((info?.parameter_count ?? 0) / 1e6)}M parameters, ${(model.file_bytes / 2 ** 20).toFixed(0)} MiB ` +
    `file, ${info?.backend}, ${info?.threads} threads`
  );
}
