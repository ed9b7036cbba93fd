// Specification of loading at start (SOVREN_INFERENCE_LOAD_AT_START, `all` and a list: loaded before any request,
// a model that cannot load reported with its reason while the others serve) and of usage events surviving a NATS
// outage (requests finishing while nats-server is down are billed exactly once after it comes back).
import { INFERENCE_MODELS, parseInferenceModelsReplyV1 } from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { connect, JSONCodec } from 'nats';

import { UsageEventPublisher } from '../usage/usage-event.publisher';
import { sample, scrapeMetrics } from './support/metrics';
import { getJson, postJson, postStream } from './support/openai-client';
import {
  BROKEN_MODEL,
  CHAT_MODEL,
  PLAIN_MODEL,
  SLOW_MODEL,
  startInferenceTestEnvironment,
  UsageCollector,
  type InferenceTestEnvironment,
} from './support/inference-test-env';

jest.setTimeout(120_000);

const ALL_MODELS = [BROKEN_MODEL, CHAT_MODEL, PLAIN_MODEL, SLOW_MODEL];

let env: InferenceTestEnvironment;

beforeAll(async () => {
  env = await startInferenceTestEnvironment({ SOVREN_INFERENCE_LOAD_AT_START: 'all' });
});

afterAll(async () => {
  await env?.dispose();
});

type Metadata = { state: string; error: string | null; loaded: null | { active_sequences: number } };

const metadata = async (base: string, model: string) =>
  (await getJson(`${base}/api/v1/inference/models/${model}`, env.apiKey)).body['data'] as Metadata;

/** The metadata of every model once none is still loading (loading at start runs in the background). */
function settledStates(base: string, timeoutMs = 20_000): Promise<Record<string, Metadata>> {
  return eventually(
    'every model to finish loading',
    async () => {
      const entries = await Promise.all(ALL_MODELS.map(async (id) => [id, await metadata(base, id)] as const));
      return entries.every(([, data]) => data.state !== 'loading') && Object.fromEntries(entries);
    },
    { timeoutMs },
  );
}

describe('SOVREN_INFERENCE_LOAD_AT_START', () => {
  it('all: loads every model before the first request and reports the one that cannot load, with its reason', async () => {
    const base = env.inference.url;
    const states = await settledStates(base);
    for (const id of [CHAT_MODEL, PLAIN_MODEL, SLOW_MODEL])
      expect(states[id]).toEqual(expect.objectContaining({ state: 'loaded', error: null }));
    expect(states[BROKEN_MODEL].state).toBe('failed');
    expect(states[BROKEN_MODEL].error).toEqual(expect.any(String));
    expect(states[BROKEN_MODEL].error?.length).toBeGreaterThan(0);

    const metrics = await scrapeMetrics(base);
    for (const id of [CHAT_MODEL, PLAIN_MODEL, SLOW_MODEL]) {
      expect(sample(metrics, 'sovren_inference_model_loaded', [`model="${id}"`])).toBe(1);
      // Loaded by the start-up, not by a request: none has been made.
      for (const endpoint of ['chat', 'completions', 'nats']) {
        expect(
          sample(metrics, 'sovren_inference_requests_total', [
            `model="${id}"`,
            `endpoint="${endpoint}"`,
            'status="ok"',
          ]),
        ).toBe(0);
      }
    }
    expect(sample(metrics, 'sovren_inference_model_loaded', [`model="${BROKEN_MODEL}"`])).toBe(0);
    expect(sample(metrics, 'sovren_inference_model_load_failures_total', [`model="${BROKEN_MODEL}"`])).toBe(1);

    const nc = await connect({ servers: env.natsUrl });
    try {
      const codec = JSONCodec<unknown>();
      const reply = parseInferenceModelsReplyV1(
        codec.decode((await nc.request(INFERENCE_MODELS, codec.encode({ v: 1 }), { timeout: 10_000 })).data),
      );
      expect(reply.models.find((m) => m.id === BROKEN_MODEL)).toEqual(
        expect.objectContaining({ state: 'failed', error: states[BROKEN_MODEL].error }),
      );
    } finally {
      await nc.close();
    }

    const served = await postJson(`${base}/v1/completions`, env.apiKey, {
      model: PLAIN_MODEL,
      prompt: 'Once upon',
      max_tokens: 3,
    });
    expect(served.status).toBe(200);
    expect(served.body['usage'].completion_tokens).toBe(3);
  });

  it('a list: loads exactly the named models, reports the one that fails, ignores an unknown id', async () => {
    const second = await env.startInference({
      SOVREN_INFERENCE_LOAD_AT_START: `${PLAIN_MODEL}, ${BROKEN_MODEL},not-a-model`,
    });
    const states = await settledStates(second.url);
    expect(states[PLAIN_MODEL].state).toBe('loaded');
    expect(states[BROKEN_MODEL].state).toBe('failed');
    expect(states[BROKEN_MODEL].error).toEqual(expect.any(String));
    expect(states[CHAT_MODEL].state).toBe('unloaded');
    expect(states[SLOW_MODEL].state).toBe('unloaded');

    const served = await postJson(`${second.url}/v1/completions`, env.apiKey, {
      model: PLAIN_MODEL,
      prompt: 'Once upon',
      max_tokens: 2,
    });
    expect(served.status).toBe(200);
  });
});

describe('usage events across a NATS outage', () => {
  it('publishes the event of every request that finished while NATS was down, exactly once, after it is back', async () => {
    const base = env.inference.url;
    const ids = ['outage-1', 'outage-2', 'outage-3'];
    const body = {
      model: SLOW_MODEL,
      messages: [{ role: 'user', content: 'Write a long story' }],
      max_tokens: 200,
      seed: 5,
    };
    const streams = ids.map((id) =>
      postStream(
        `${base}/v1/chat/completions`,
        env.apiKey,
        { ...body, stream_options: { include_usage: true } },
        { headers: { 'x-request-id': id } },
      ).then((answer) => ({ answer, finishedAt: Date.now() })),
    );
    // Every request authenticated and generating before NATS goes away.
    await eventually(
      'the requests to run together',
      async () => (await metadata(base, SLOW_MODEL)).loaded?.active_sequences === ids.length,
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    const stoppedAt = Date.now();
    await env.nats.stop();
    const finished = await Promise.all(streams);
    // Let a few publish attempts fail before the server comes back.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await env.nats.restart();

    for (const { answer, finishedAt } of finished) {
      expect(finishedAt).toBeGreaterThan(stoppedAt);
      expect(answer.done).toBe(true);
      expect(answer.chunks[answer.chunks.length - 1]['usage'].completion_tokens).toBe(200);
    }
    await env.inference.app.get(UsageEventPublisher).whenIdle();

    // A fresh reader of the whole stream, as billing would start after the outage.
    const reader = await UsageCollector.start(env.natsUrl);
    try {
      for (const id of ids) await reader.forRequest(id, 1, 30_000);
      // Anything duplicated would be in the stream by now: the publisher has nothing left to send.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const id of ids) {
        const events = (await reader.read()).filter((event) => event.requestId === id);
        expect(events).toHaveLength(1);
        expect(events[0].quantities['llm_tokens_out']).toBe(200);
        expect(events[0].ownerId).toBe(env.userId);
      }
    } finally {
      await reader.close();
    }
  });
});
