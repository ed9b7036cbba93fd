// Specification of the time limits (issue 5): a model idle for SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS unloads and
// loads again on its next request, a busy one never does; a request running past
// SOVREN_INFERENCE_REQUEST_TIMEOUT_SECONDS ends as documented (finish_reason `length`, what was generated so far),
// frees its sequence and bills the tokens generated. Real auth, NATS, PostgreSQL and engine, as everywhere.
import { writeTinyModel } from '@sovren/engine/testing';
import { eventually } from '@sovren/testing';
import { join } from 'node:path';

import { sample, scrapeMetrics } from './support/metrics';
import { getJson, postJson, postStream, streamedText } from './support/openai-client';
import {
  CHAT_MODEL,
  SLOW_MODEL_OPTIONS,
  startInferenceTestEnvironment,
  type InferenceTestEnvironment,
} from './support/inference-test-env';

jest.setTimeout(120_000);

const IDLE_SECONDS = 1;
const TIMEOUT_SECONDS = 2;
/**
 * The slow model's shape with a context far beyond what it generates before the deadline even on an idle machine
 * (~90 tokens/s per stream on a loaded one), so the deadline, not the context, is what ends the requests below.
 */
const LONG_MODEL = 'tiny-slow-long';
const LONG_CONTEXT = 2048;

let env: InferenceTestEnvironment;
let base: string;

beforeAll(async () => {
  env = await startInferenceTestEnvironment({
    SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS: String(IDLE_SECONDS),
    SOVREN_INFERENCE_REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
    // Each model's own context: 256 for the shared test models, LONG_CONTEXT for the one written here.
    SOVREN_INFERENCE_SEQUENCE_CONTEXT: '0',
  });
  base = env.inference.url;
  // Discovered on its first request, like a file copied into a running service's models directory.
  await writeTinyModel(join(env.root, 'models', 'llms', `${LONG_MODEL}.gguf`), {
    ...SLOW_MODEL_OPTIONS,
    contextLength: LONG_CONTEXT,
  });
});

afterAll(async () => {
  await env?.dispose();
});

const metadata = async (model: string) =>
  (await getJson(`${base}/api/v1/inference/models/${model}`, env.apiKey)).body['data'];
const loadedGauge = async (model: string) =>
  sample(await scrapeMetrics(base), 'sovren_inference_model_loaded', [`model="${model}"`]);

/** The metadata of `model` once it is in `state` (the idle sweep runs every quarter of the idle period). */
function waitForState(model: string, state: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return eventually(
    `${model} to be ${state}`,
    async () => {
      const data = (await metadata(model)) as Record<string, unknown>;
      return data['state'] === state && data;
    },
    { timeoutMs },
  );
}

describe('idle unload', () => {
  it('unloads a model idle for the configured time and loads it again on the next request', async () => {
    const first = await postJson(`${base}/v1/chat/completions`, env.apiKey, {
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 2,
    });
    expect(first.status).toBe(200);
    const loadedAt = (await metadata(CHAT_MODEL)).loaded?.loaded_at;
    expect(loadedAt).toEqual(expect.any(String));
    expect(await loadedGauge(CHAT_MODEL)).toBe(1);

    const unloaded = await waitForState(CHAT_MODEL, 'unloaded');
    expect(unloaded['loaded']).toBeNull();
    expect(unloaded['error']).toBeNull();
    expect(await loadedGauge(CHAT_MODEL)).toBe(0);

    const again = await postJson(`${base}/v1/chat/completions`, env.apiKey, {
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Hi' }],
      max_tokens: 2,
    });
    expect(again.status).toBe(200);
    expect(again.body['usage'].completion_tokens).toBe(2);
    const reloaded = await metadata(CHAT_MODEL);
    expect(reloaded.state).toBe('loaded');
    expect(reloaded.loaded.loaded_at).not.toBe(loadedAt);
    expect(await loadedGauge(CHAT_MODEL)).toBe(1);
  });
});

describe('request deadline over HTTP', () => {
  it('ends streaming and plain requests at the deadline with what they generated, frees their sequences and bills it', async () => {
    // No max_tokens: each may use the whole context, far more than the slow model generates in the deadline.
    const body = { model: LONG_MODEL, messages: [{ role: 'user', content: 'Write a long story' }], seed: 3 };
    const started = Date.now();
    const [stream, plain] = await Promise.all([
      postStream(
        `${base}/v1/chat/completions`,
        env.apiKey,
        { ...body, stream_options: { include_usage: true } },
        { headers: { 'x-request-id': 'deadline-stream' } },
      ),
      postJson(`${base}/v1/chat/completions`, env.apiKey, body, { 'x-request-id': 'deadline-plain' }),
    ]);
    // The deadline, not a limit reached earlier, ended them (this is the lower bound the limit promises, not a speed).
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_SECONDS * 1000);

    expect(stream.status).toBe(200);
    expect(stream.done).toBe(true);
    const finish = stream.chunks[stream.chunks.length - 2];
    expect(finish['choices'][0].finish_reason).toBe('length');
    const usage = stream.chunks[stream.chunks.length - 1];
    expect(usage['choices']).toEqual([]);
    const streamed = usage['usage'] as { prompt_tokens: number; completion_tokens: number };
    expect(streamed.completion_tokens).toBeGreaterThan(0);
    expect(streamed.prompt_tokens + streamed.completion_tokens).toBeLessThan(LONG_CONTEXT);
    expect(streamedText(stream).length).toBeGreaterThan(0);

    expect(plain.status).toBe(200);
    expect(plain.body['choices'][0].finish_reason).toBe('length');
    const plainUsage = plain.body['usage'] as { prompt_tokens: number; completion_tokens: number };
    expect(plainUsage.completion_tokens).toBeGreaterThan(0);
    expect(plainUsage.prompt_tokens + plainUsage.completion_tokens).toBeLessThan(LONG_CONTEXT);

    // Freed at once: no sequence held, and the model (busy past the idle period) was not unloaded under them.
    const meta = await metadata(LONG_MODEL);
    expect(meta.state).toBe('loaded');
    expect(meta.loaded.active_sequences).toBe(0);
    expect(meta.loaded.queued_requests).toBe(0);

    for (const [requestId, counted] of [
      ['deadline-stream', streamed],
      ['deadline-plain', plainUsage],
    ] as const) {
      const [event] = await env.usage.forRequest(requestId);
      expect(event.llm).toEqual(
        expect.objectContaining({
          finishReason: 'length',
          promptTokens: counted.prompt_tokens,
          completionTokens: counted.completion_tokens,
        }),
      );
      expect(event.quantities).toEqual({
        llm_tokens_in: counted.prompt_tokens,
        llm_tokens_out: counted.completion_tokens,
      });
      expect(event.llm?.durationMs).toBeGreaterThanOrEqual((TIMEOUT_SECONDS - 0.1) * 1000);
    }
  });
});
