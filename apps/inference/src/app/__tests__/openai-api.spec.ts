// Specification of the OpenAI-compatible API (issue 5): real auth (API key over Bearer), real NATS + JetStream,
// real PostgreSQL, generated GGUF models on the real engine, continuous batching underneath.
import { EngineModel } from '@sovren/engine';
import { join } from 'node:path';

import { GenerationService } from '../generation/generation.service';
import { ModelRegistry } from '../models/model-registry.service';
import { sample } from './support/metrics';
import { getJson, postJson, postStream, streamedText } from './support/openai-client';
import {
  BROKEN_MODEL,
  CHAT_MODEL,
  PLAIN_MODEL,
  SEQUENCE_CONTEXT,
  SLOW_MODEL,
  startInferenceTestEnvironment,
  type InferenceTestEnvironment,
} from './support/inference-test-env';

jest.setTimeout(120_000);

let env: InferenceTestEnvironment;
let base: string;

beforeAll(async () => {
  env = await startInferenceTestEnvironment();
  base = env.inference.url;
});

afterAll(async () => {
  await env?.dispose();
});

const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  postJson(
    `${base}/v1/chat/completions`,
    env.apiKey,
    { model: CHAT_MODEL, messages: [{ role: 'user', content: 'Hello there' }], ...body },
    headers,
  );

/** The prompt token ids the service queues for a chat (the request runs to one token). */
async function promptIds(model: string, messages: Array<{ role: string; content: string }>): Promise<number[]> {
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const started = await env.inference.app
    .get(GenerationService)
    .start(
      { endpoint: 'chat', requestId: `ids-${model}`, ownerId: env.userId, model, messages, maxTokens: 1 },
      { onText: () => undefined, onFinish: () => finished() },
    );
  await done;
  return [...started.job.input.promptTokens];
}

function expectOpenAiError(
  answer: { status: number; body: Record<string, any> }, // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number,
  code?: string | null,
): void {
  expect(answer.status).toBe(status);
  expect(Object.keys(answer.body)).toEqual(['error']);
  expect(Object.keys(answer.body['error']).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof answer.body['error'].message).toBe('string');
  if (code !== undefined) expect(answer.body['error'].code).toBe(code);
}

describe('models', () => {
  it('lists every GGUF file of the models directory at /v1/models, id = file stem', async () => {
    const answer = await getJson(`${base}/v1/models`, env.apiKey);
    expect(answer.status).toBe(200);
    expect(answer.body['object']).toBe('list');
    const ids = (answer.body['data'] as Array<{ id: string; object: string; owned_by: string }>).map((m) => m.id);
    expect(ids).toEqual([BROKEN_MODEL, CHAT_MODEL, PLAIN_MODEL, SLOW_MODEL].sort());
    expect(answer.body['data'][0]).toEqual(
      expect.objectContaining({ object: 'model', owned_by: 'sovren', created: expect.any(Number) }),
    );
  });

  it('reports a model that fails to load with the reason, and keeps serving the others', async () => {
    const broken = await chat({ model: BROKEN_MODEL, max_tokens: 2 });
    expectOpenAiError(broken, 503, 'model_unavailable');
    expect(broken.body['error'].message).toContain(BROKEN_MODEL);
    const meta = await getJson(`${base}/api/v1/inference/models/${BROKEN_MODEL}`, env.apiKey);
    expect(meta.status).toBe(200);
    expect(meta.body['success']).toBe(true);
    expect(meta.body['data'].state).toBe('failed');
    expect(meta.body['data'].error).toEqual(expect.any(String));
    expect((await chat({ max_tokens: 2 })).status).toBe(200);
  });

  it('serves metadata in the platform envelope and lets only an admin unload and load a model', async () => {
    await chat({ max_tokens: 1 });
    const meta = await getJson(`${base}/api/v1/inference/models/${CHAT_MODEL}`, env.apiKey);
    expect(meta.body['data']).toEqual(expect.objectContaining({ id: CHAT_MODEL, state: 'loaded' }));
    expect(meta.body['data'].loaded).toEqual(
      expect.objectContaining({ context_size: SEQUENCE_CONTEXT, has_chat_template: true }),
    );
    const missing = await getJson(`${base}/api/v1/inference/models/nope`, env.apiKey);
    expect(missing.status).toBe(404);
    expect(missing.body['error'].code).toBe('NOT_FOUND');

    const refused = await postJson(`${base}/api/v1/inference/models/${CHAT_MODEL}/unload`, env.apiKey, {});
    expect(refused.status).toBe(403);
    expect(refused.body['success']).toBe(false);
    const unloaded = await postJson(`${base}/api/v1/inference/models/${CHAT_MODEL}/unload`, env.adminToken, {});
    expect(unloaded.status).toBe(200);
    expect(unloaded.body['data']).toEqual(expect.objectContaining({ state: 'unloaded', was_loaded: true }));
    const loaded = await postJson(`${base}/api/v1/inference/models/${CHAT_MODEL}/load`, env.adminToken, {});
    expect(loaded.status).toBe(200);
    expect(loaded.body['data'].state).toBe('loaded');
  });
});

describe('chat completions', () => {
  it('answers a non-streaming chat in OpenAI shape and publishes its usage event to the owner and key', async () => {
    const answer = await chat({ max_tokens: 8, seed: 11 }, { 'x-request-id': 'chat-plain-1' });
    expect(answer.status).toBe(200);
    const body = answer.body;
    expect(body['id']).toMatch(/^chatcmpl-/);
    expect(body['object']).toBe('chat.completion');
    expect(body['created']).toEqual(expect.any(Number));
    expect(body['model']).toBe(CHAT_MODEL);
    expect(body['choices']).toHaveLength(1);
    expect(body['choices'][0]).toEqual({
      index: 0,
      message: { role: 'assistant', content: expect.any(String), refusal: null },
      logprobs: null,
      finish_reason: 'length',
    });
    expect(body['choices'][0].message.content.length).toBeGreaterThan(0);
    expect(body['usage'].completion_tokens).toBe(8);
    expect(body['usage'].total_tokens).toBe(body['usage'].prompt_tokens + 8);

    const [event] = await env.usage.forRequest('chat-plain-1');
    expect(event).toEqual(
      expect.objectContaining({
        source: 'inference',
        ownerId: env.userId,
        keyId: env.apiKeyId,
        quantities: { llm_tokens_in: body['usage'].prompt_tokens, llm_tokens_out: 8 },
      }),
    );
    expect(event.llm).toEqual(
      expect.objectContaining({ model: CHAT_MODEL, completionTokens: 8, finishReason: 'length' }),
    );
  });

  it('renders the prompt with the GGUF chat template, and with the ChatML fallback for a model without one', async () => {
    const messages = [{ role: 'user', content: 'Hello there' }];
    const withTemplate = await chat({ messages, max_tokens: 1 });
    const fallback = await chat({ model: PLAIN_MODEL, messages, max_tokens: 1 });
    expect(fallback.status).toBe(200);
    const llama2 = await EngineModel.load(join(env.root, 'models', 'llms', `${CHAT_MODEL}.gguf`), { threads: 1 });
    const plain = await EngineModel.load(join(env.root, 'models', 'llms', `${PLAIN_MODEL}.gguf`), { threads: 1 });
    try {
      const expectedLlama2 = llama2.tokenize('<s>[INST] Hello there [/INST]', {
        addSpecial: false,
        parseSpecial: true,
      });
      const expectedChatml = plain.tokenize('<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n', {
        addSpecial: true,
        parseSpecial: true,
      });
      expect(withTemplate.body['usage'].prompt_tokens).toBe(expectedLlama2.length);
      expect(fallback.body['usage'].prompt_tokens).toBe(expectedChatml.length);
      // The very ids queued for the model, not only their number.
      expect(await promptIds(CHAT_MODEL, messages)).toEqual(expectedLlama2);
      expect(await promptIds(PLAIN_MODEL, messages)).toEqual(expectedChatml);
    } finally {
      llama2.close();
      plain.close();
    }
  });

  it('streams server-sent events exactly like OpenAI, with the usage chunk on request, and the same text for the same seed', async () => {
    const request = {
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Tell me a story' }],
      max_tokens: 12,
      seed: 5,
      temperature: 0.9,
    };
    const whole = await postJson(`${base}/v1/chat/completions`, env.apiKey, request);
    const stream = await postStream(
      `${base}/v1/chat/completions`,
      env.apiKey,
      { ...request, stream_options: { include_usage: true } },
      {
        headers: { 'x-request-id': 'chat-stream-1' },
      },
    );
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.raw.startsWith('data: {')).toBe(true);
    expect(stream.raw.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(stream.done).toBe(true);
    const [first, ...rest] = stream.chunks;
    expect(first['choices'][0]).toEqual({
      index: 0,
      delta: { role: 'assistant', content: '' },
      logprobs: null,
      finish_reason: null,
    });
    for (const chunk of stream.chunks) {
      expect(chunk['id']).toBe(first['id']);
      expect(chunk['object']).toBe('chat.completion.chunk');
    }
    const usageChunk = rest[rest.length - 1];
    const closing = rest[rest.length - 2];
    expect(closing['choices'][0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'length' });
    expect(closing['usage']).toBeNull();
    expect(usageChunk['choices']).toEqual([]);
    expect(usageChunk['usage']).toEqual(whole.body['usage']);
    expect(streamedText(stream)).toBe(whole.body['choices'][0].message.content);
    const [event] = await env.usage.forRequest('chat-stream-1');
    expect(event.quantities).toEqual({ llm_tokens_in: whole.body['usage'].prompt_tokens, llm_tokens_out: 12 });
  });

  it('gives the same text for the same seed and another text for another seed', async () => {
    const run = async (seed: number) =>
      (await chat({ max_tokens: 16, seed, temperature: 1 })).body['choices'][0].message.content as string;
    const a = await run(42);
    expect(await run(42)).toBe(a);
    expect(await run(43)).not.toBe(a);
  });

  it('honours stop strings, streaming or not, and never returns the stop text', async () => {
    const request = { max_tokens: 24, seed: 9, temperature: 1 };
    const free = (await chat(request)).body['choices'][0].message.content as string;
    const stop = free.slice(6, 9);
    const cut = free.indexOf(stop);
    expect(cut).toBeGreaterThan(0);
    const stopped = await chat({ ...request, stop: [stop, 'never-generated-xyz'] });
    expect(stopped.body['choices'][0].message.content).toBe(free.slice(0, cut));
    expect(stopped.body['choices'][0].finish_reason).toBe('stop');
    expect(stopped.body['usage'].completion_tokens).toBeLessThan(24);
    const streamed = await postStream(`${base}/v1/chat/completions`, env.apiKey, {
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Hello there' }],
      ...request,
      stop,
    });
    expect(streamedText(streamed)).toBe(free.slice(0, cut));
    expect(streamed.chunks[streamed.chunks.length - 1]['choices'][0].finish_reason).toBe('stop');
  });

  it('honours max_tokens and max_completion_tokens', async () => {
    const a = await chat({ max_tokens: 3 });
    expect(a.body['usage'].completion_tokens).toBe(3);
    expect(a.body['choices'][0].finish_reason).toBe('length');
    const b = await chat({ max_tokens: 9, max_completion_tokens: 5 });
    expect(b.body['usage'].completion_tokens).toBe(5);
  });
});

describe('text completions', () => {
  it('answers /v1/completions in OpenAI shape, streaming or not, 16 tokens by default', async () => {
    const answer = await postJson(
      `${base}/v1/completions`,
      env.apiKey,
      { model: CHAT_MODEL, prompt: 'Once upon a time', seed: 3 },
      { 'x-request-id': 'cmpl-1' },
    );
    expect(answer.status).toBe(200);
    expect(answer.body['id']).toMatch(/^cmpl-/);
    expect(answer.body['object']).toBe('text_completion');
    expect(answer.body['choices'][0]).toEqual({
      text: expect.any(String),
      index: 0,
      logprobs: null,
      finish_reason: 'length',
    });
    expect(answer.body['usage'].completion_tokens).toBe(16);
    const [event] = await env.usage.forRequest('cmpl-1');
    expect(event.quantities['llm_tokens_out']).toBe(16);

    const stream = await postStream(`${base}/v1/completions`, env.apiKey, {
      model: CHAT_MODEL,
      prompt: 'Once upon a time',
      seed: 3,
    });
    expect(stream.done).toBe(true);
    expect(stream.chunks.every((c) => c['object'] === 'text_completion' && c['id'].startsWith('cmpl-'))).toBe(true);
    expect(streamedText(stream)).toBe(answer.body['choices'][0].text);
    expect(stream.chunks[stream.chunks.length - 1]['choices'][0].finish_reason).toBe('length');
  });
});

describe('errors in OpenAI shape', () => {
  it('answers 401 without a key or with a wrong one', async () => {
    expectOpenAiError(
      await postJson(`${base}/v1/chat/completions`, undefined, { model: CHAT_MODEL, messages: [] }),
      401,
      'invalid_api_key',
    );
    expectOpenAiError(await getJson(`${base}/v1/models`, 'sov_not_a_real_key'), 401, 'invalid_api_key');
  });

  it('refuses bad requests with 4xx naming the problem', async () => {
    expectOpenAiError(await chat({ model: 'no-such-model' }), 404, 'model_not_found');
    const negative = await chat({ max_tokens: -1 });
    expectOpenAiError(negative, 400);
    expect(negative.body['error'].param).toBe('max_tokens');
    expectOpenAiError(await chat({ temperature: 'hot' }), 400);
    expectOpenAiError(await chat({ messages: 'hello' }), 400);
    expectOpenAiError(await chat({ messages: [{ role: 'user', content: 42 }] }), 400);
    const empty = await chat({ messages: [] });
    expectOpenAiError(empty, 400);
    expect(empty.body['error'].param).toBe('messages');
    expectOpenAiError(await chat({ stream: 'yes' }), 400);
    expectOpenAiError(await chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), 400);
    const long = await chat({ messages: [{ role: 'user', content: 'word '.repeat(SEQUENCE_CONTEXT * 2) }] });
    expectOpenAiError(long, 400, 'context_length_exceeded');
    expectOpenAiError(await chat({ max_tokens: SEQUENCE_CONTEXT }), 400, 'context_length_exceeded');
    expectOpenAiError(
      await postJson(`${base}/v1/chat/completions`, env.apiKey, '{"model": "tiny-chat", "messages": ['),
      400,
    );
    expectOpenAiError(await postJson(`${base}/v1/completions`, env.apiKey, { model: CHAT_MODEL, prompt: 7 }), 400);
  });
});

describe('scheduler through the API', () => {
  const slow = (max_tokens: number) => ({
    model: SLOW_MODEL,
    messages: [{ role: 'user', content: 'Write a long story' }],
    max_tokens,
    seed: 1,
  });

  it('batches concurrent streams into the same steps', async () => {
    const streams = await Promise.all(
      [0, 1, 2, 3].map(() => postStream(`${base}/v1/chat/completions`, env.apiKey, slow(40))),
    );
    for (const s of streams) expect(s.done).toBe(true);
    const scheduler = (await env.inference.app.get(ModelRegistry).acquire(SLOW_MODEL)).scheduler;
    expect(scheduler.maxStepSequences).toBeGreaterThan(1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const single = sample(metrics, 'sovren_inference_step_sequences_bucket', ['le="1"', `model="${SLOW_MODEL}"`]);
    const all = sample(metrics, 'sovren_inference_step_sequences_count', [`model="${SLOW_MODEL}"`]);
    expect(all).toBeGreaterThan(single);
  });

  it('refuses with 429 and Retry-After when every sequence is busy and the queue is full', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => postJson(`${base}/v1/chat/completions`, env.apiKey, slow(120))),
    );
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expectOpenAiError(refused[0], 429, 'queue_full');
    expect(Number(refused[0].headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(6);
  });

  it('stops a stream whose client disconnected after 3 tokens and bills the tokens generated', async () => {
    const answer = await postStream(`${base}/v1/chat/completions`, env.apiKey, slow(200), {
      abortAfterContentChunks: 3,
      headers: { 'x-request-id': 'disconnect-1' },
    });
    expect(answer.status).toBe(200);
    const [event] = await env.usage.forRequest('disconnect-1');
    expect(event.llm?.finishReason).toBe('cancelled');
    expect(event.quantities['llm_tokens_out']).toBeGreaterThanOrEqual(3);
    expect(event.quantities['llm_tokens_out']).toBeLessThan(200);
    expect(event.quantities['llm_tokens_out']).toBe(event.llm?.completionTokens);
    const scheduler = (await env.inference.app.get(ModelRegistry).acquire(SLOW_MODEL)).scheduler;
    expect(scheduler.active).toBe(0);
  });
});

describe('metrics', () => {
  it('names every inference metric for every discovered model', async () => {
    await chat({ max_tokens: 3 });
    await chat({ model: BROKEN_MODEL, max_tokens: 1 });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const names = [
      'sovren_inference_prompt_tokens_total',
      'sovren_inference_generated_tokens_total',
      'sovren_inference_requests_total',
      'sovren_inference_time_to_first_token_seconds_bucket',
      'sovren_inference_inter_token_seconds_bucket',
      'sovren_inference_step_seconds_bucket',
      'sovren_inference_queue_depth',
      'sovren_inference_active_sequences',
      'sovren_inference_kv_cache_occupancy_ratio',
      'sovren_inference_prefix_cache_lookups_total',
      'sovren_inference_prefix_cache_hits_total',
      'sovren_inference_prefix_cache_hit_tokens_total',
      'sovren_inference_prefix_cache_bytes',
      'sovren_inference_prefix_cache_entries',
      'sovren_inference_model_loaded',
      'sovren_inference_model_load_failures_total',
    ];
    for (const model of [BROKEN_MODEL, CHAT_MODEL, PLAIN_MODEL, SLOW_MODEL]) {
      for (const name of names) expect(metrics).toMatch(new RegExp(`^${name}\\{[^}]*model="${model}"`, 'm'));
    }
    expect(
      sample(metrics, 'sovren_inference_inter_token_seconds_bucket', ['le="0.09"', `model="${CHAT_MODEL}"`]),
    ).toBeGreaterThan(0);
    expect(sample(metrics, 'sovren_inference_model_load_failures_total', [`model="${BROKEN_MODEL}"`])).toBeGreaterThan(
      0,
    );
    expect(
      sample(metrics, 'sovren_inference_requests_total', [`model="${CHAT_MODEL}"`, 'endpoint="chat"', 'status="ok"']),
    ).toBeGreaterThan(0);
    expect(sample(metrics, 'sovren_inference_model_loaded', [`model="${CHAT_MODEL}"`])).toBe(1);
  });
  it('serves a repeated chat history from the prefix cache, answering the same, and counts the hit', async () => {
    const label = [`model="${CHAT_MODEL}"`];
    const before = await (await fetch(`${base}/metrics`)).text();
    const history = [{ role: 'user', content: 'Tell me about the weather in the mountains today. '.repeat(8) }];
    const ask = () => chat({ messages: history, max_tokens: 5, temperature: 0 });
    const first = await ask();
    const second = await ask();
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body['choices'][0]['message']).toEqual(first.body['choices'][0]['message']);
    expect(second.body['usage']['prompt_tokens']).toBe(first.body['usage']['prompt_tokens']);
    expect(first.body['usage']['prompt_tokens_details']).toEqual({ cached_tokens: 0 });
    expect(second.body['usage']['prompt_tokens_details']['cached_tokens']).toBeGreaterThanOrEqual(64);
    const after = await (await fetch(`${base}/metrics`)).text();
    const grew = (name: string): number => sample(after, name, label) - sample(before, name, label);
    expect(grew('sovren_inference_prefix_cache_lookups_total')).toBe(2);
    expect(grew('sovren_inference_prefix_cache_hits_total')).toBe(1);
    expect(grew('sovren_inference_prefix_cache_hit_tokens_total')).toBeGreaterThanOrEqual(64);
    expect(sample(after, 'sovren_inference_prefix_cache_bytes', label)).toBeGreaterThan(0);
  });
});
