// Specification of inference.generate and inference.models on NATS: accepted/refused at once, chunks and one
// final message on the caller's stream subject, cancel by the subject the acceptance names, usage billed to the
// ownerId the calling service supplies.
import {
  INFERENCE_GENERATE,
  INFERENCE_MODELS,
  INFERENCE_MODELS_LOAD,
  INFERENCE_MODELS_UNLOAD,
  parseInferenceGenerateReplyV1,
  parseInferenceGenerateRequestV1,
  parseInferenceModelControlReplyV1,
  parseInferenceGenerateStreamMessageV1,
  parseInferenceModelsReplyV1,
  type InferenceGenerateChunkV1,
  type InferenceGenerateFinalV1,
  type InferenceGenerateRequestV1,
  type InferenceGenerateStreamMessageV1,
} from '@sovren/messaging';
import { writeTinyModel } from '@sovren/engine/testing';
import { join } from 'node:path';
import { connect, createInbox, JSONCodec, type NatsConnection } from 'nats';

import {
  BROKEN_MODEL,
  CHAT_MODEL,
  PLAIN_MODEL,
  SLOW_MODEL,
  startInferenceTestEnvironment,
  type InferenceTestEnvironment,
} from './support/inference-test-env';

jest.setTimeout(120_000);

const TOOLS_MODEL = 'tools-chat';

const codec = JSONCodec<unknown>();
let env: InferenceTestEnvironment;
let nc: NatsConnection;

beforeAll(async () => {
  // Tools are rendered into the prompt: their requests need more than the 256 tokens of the other models.
  env = await startInferenceTestEnvironment({ SOVREN_INFERENCE_SEQUENCE_CONTEXT: '1024' });
  await writeTinyModel(join(env.root, 'models', 'llms', `${TOOLS_MODEL}.gguf`), {
    contextLength: 1024,
    seed: 7,
  });
  nc = await connect({ servers: env.natsUrl });
});

afterAll(async () => {
  await nc?.close();
  await env?.dispose();
});

interface Collected {
  chunks: InferenceGenerateChunkV1[];
  final: Promise<InferenceGenerateFinalV1>;
  /** Stops listening (for a refused request, which gets no final message). */
  stop(): void;
}

/** Subscribes to a fresh stream subject (before the request, as a caller must) and collects what arrives. */
function collect(subject: string, onChunk?: (chunk: InferenceGenerateChunkV1) => void): Collected {
  const chunks: InferenceGenerateChunkV1[] = [];
  const subscription = nc.subscribe(subject);
  const final = (async () => {
    for await (const message of subscription) {
      const parsed: InferenceGenerateStreamMessageV1 = parseInferenceGenerateStreamMessageV1(
        codec.decode(message.data),
      );
      if (parsed.type === 'final') {
        subscription.unsubscribe();
        return parsed;
      }
      chunks.push(parsed);
      onChunk?.(parsed);
    }
    throw new Error('stream subject closed without a final message');
  })();
  return { chunks, final, stop: () => subscription.unsubscribe() };
}

async function generate(
  request: Omit<InferenceGenerateRequestV1, 'v' | 'streamSubject'>,
  onChunk?: (chunk: InferenceGenerateChunkV1) => void,
) {
  const streamSubject = createInbox();
  const collected = collect(streamSubject, onChunk);
  await nc.flush();
  const reply = parseInferenceGenerateReplyV1(
    codec.decode(
      (await nc.request(INFERENCE_GENERATE, codec.encode({ v: 1, streamSubject, ...request }), { timeout: 10_000 }))
        .data,
    ),
  );
  return { reply, ...collected };
}

describe('inference.models', () => {
  it('lists the models with their state', async () => {
    const reply = parseInferenceModelsReplyV1(
      codec.decode((await nc.request(INFERENCE_MODELS, codec.encode({ v: 1 }), { timeout: 5_000 })).data),
    );
    expect(reply.models.map((m) => m.id)).toContain(CHAT_MODEL);
    expect(reply.models.every((m) => ['unloaded', 'loading', 'loaded', 'failed'].includes(m.state))).toBe(true);
  });
});

describe('inference.generate', () => {
  it('accepts, streams chunks, then one final message with the usage, and publishes the usage event', async () => {
    const { reply, chunks, final } = await generate({
      requestId: 'nats-stream-1',
      ownerId: 'org-voice-1',
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      maxTokens: 10,
      seed: 4,
    });
    expect(reply).toEqual(
      expect.objectContaining({
        accepted: true,
        requestId: 'nats-stream-1',
        cancelSubject: 'inference.cancel.nats-stream-1',
      }),
    );
    const done = await final;
    expect(done.finishReason).toBe('length');
    expect(done.completionTokens).toBe(10);
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    expect(chunks.map((c) => c.text).join('')).toBe(done.text);
    const [event] = await env.usage.forRequest('nats-stream-1');
    expect(event.ownerId).toBe('org-voice-1');
    expect(event).not.toHaveProperty('keyId');
    expect(event.quantities).toEqual({ llm_tokens_in: done.promptTokens, llm_tokens_out: 10 });
  });

  const PHONE_TOOLS = [
    { name: 'hang_up', parameters: { type: 'object', properties: {}, additionalProperties: false } },
    {
      name: 'dtmf',
      parameters: {
        type: 'object',
        properties: { d: { enum: ['1', '#'] } },
        required: ['d'],
        additionalProperties: false,
      },
    },
  ];

  it('returns forced tool calls of declared functions with schema-valid arguments, and streams none of it', async () => {
    const { reply, chunks, final } = await generate({
      requestId: 'nats-tools-required',
      ownerId: 'org-voice-1',
      model: TOOLS_MODEL,
      messages: [{ role: 'user', content: 'Press one.' }],
      stream: true,
      maxTokens: 600,
      seed: 9,
      tools: PHONE_TOOLS,
      toolChoice: 'required',
    });
    if (!reply.accepted) throw new Error(`refused: ${JSON.stringify(reply.error)}`);
    const done = await final;
    expect({ finishReason: done.finishReason, error: done.error }).toEqual({ finishReason: 'stop' });
    expect(chunks).toEqual([]);
    expect(done.toolCalls?.length).toBeGreaterThan(0);
    for (const call of done.toolCalls ?? []) {
      expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
      expect(['hang_up', 'dtmf']).toContain(call.name);
      const args = JSON.parse(call.arguments) as Record<string, unknown>;
      if (call.name === 'dtmf') expect(['1', '#']).toContain(args.d);
    }
  });

  it('streams plain text as before when the model calls no tool (auto), and refuses tools without messages', async () => {
    const { reply, chunks, final } = await generate({
      requestId: 'nats-tools-auto',
      ownerId: 'org-voice-1',
      model: TOOLS_MODEL,
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      maxTokens: 10,
      seed: 4,
      tools: PHONE_TOOLS,
    });
    if (!reply.accepted) throw new Error(`refused: ${JSON.stringify(reply.error)}`);
    const done = await final;
    expect(done.toolCalls).toBeUndefined();
    expect(chunks.map((c) => c.text).join('')).toBe(done.text);
    expect(() =>
      parseInferenceGenerateRequestV1({
        v: 1,
        requestId: 'x',
        ownerId: 'o',
        model: CHAT_MODEL,
        prompt: 'hi',
        streamSubject: '_INBOX.x',
        stream: false,
        tools: PHONE_TOOLS,
      }),
    ).toThrow(/tools/);
  });

  it('sends only the final message when not streaming', async () => {
    const { reply, chunks, final } = await generate({
      requestId: 'nats-plain-1',
      ownerId: 'u1',
      model: CHAT_MODEL,
      prompt: 'Once upon a time',
      stream: false,
      maxTokens: 5,
    });
    expect(reply.accepted).toBe(true);
    const done = await final;
    expect(done.completionTokens).toBe(5);
    expect(done.text.length).toBeGreaterThan(0);
    expect(chunks).toHaveLength(0);
  });

  it('ends a request when its cancel subject is published to', async () => {
    let firstChunk: () => void = () => undefined;
    const chunkSeen = new Promise<void>((resolve) => (firstChunk = resolve));
    const { reply, final } = await generate(
      {
        requestId: 'nats-cancel-1',
        ownerId: 'u1',
        model: SLOW_MODEL,
        prompt: 'A long story',
        stream: true,
        maxTokens: 200,
      },
      () => firstChunk(),
    );
    if (!reply.accepted) throw new Error(`refused: ${reply.error.message}`);
    await chunkSeen;
    nc.publish(reply.cancelSubject);
    const done = await final;
    expect(done.finishReason).toBe('cancelled');
    expect(done.completionTokens).toBeLessThan(200);
    const [event] = await env.usage.forRequest('nats-cancel-1');
    expect(event.llm?.finishReason).toBe('cancelled');
    expect(event.quantities['llm_tokens_out']).toBe(done.completionTokens);
  });

  it('refuses at once with a code when the request cannot run, and rejects a malformed request', async () => {
    const { reply, stop, final } = await generate({
      requestId: 'nats-bad-1',
      ownerId: 'u1',
      model: 'no-such-model',
      prompt: 'x',
      stream: false,
    });
    stop();
    await expect(final).rejects.toThrow(/without a final message/);
    expect(reply).toEqual(
      expect.objectContaining({ accepted: false, error: expect.objectContaining({ code: 'model_not_found' }) }),
    );
    const malformed = await nc.request(INFERENCE_GENERATE, codec.encode({ v: 1, requestId: 'x' }), { timeout: 5_000 });
    expect(malformed.headers?.get('Sovren-Error')).toBeTruthy();
    expect(JSON.stringify(codec.decode(malformed.data))).toContain('INVALID_PAYLOAD');
  });
});

describe('inference.models.load and inference.models.unload (the operator)', () => {
  const control = async (subject: string, payload: unknown) => {
    const message = await nc.request(subject, codec.encode(payload), { timeout: 60_000 });
    const body = codec.decode(message.data);
    return message.headers?.get('Sovren-Error') ? { error: body } : parseInferenceModelControlReplyV1(body);
  };

  it('loads a model, answering once it is loaded, and unloads it', async () => {
    await expect(control(INFERENCE_MODELS_LOAD, { v: 1, id: PLAIN_MODEL })).resolves.toMatchObject({
      model: { id: PLAIN_MODEL, state: 'loaded', contextSize: expect.any(Number) },
    });
    await expect(control(INFERENCE_MODELS_UNLOAD, { v: 1, id: PLAIN_MODEL })).resolves.toEqual({
      v: 1,
      model: { id: PLAIN_MODEL, kind: 'llm', state: 'unloaded' },
      wasLoaded: true,
    });
    await expect(control(INFERENCE_MODELS_UNLOAD, { v: 1, id: PLAIN_MODEL })).resolves.toMatchObject({
      wasLoaded: false,
    });
  });

  it('answers an unknown model, a model that cannot load and a bad id with error replies', async () => {
    expect(await control(INFERENCE_MODELS_LOAD, { v: 1, id: 'no-such-model' })).toMatchObject({
      error: { error: { code: 'model_not_found' } },
    });
    expect(await control(INFERENCE_MODELS_LOAD, { v: 1, id: BROKEN_MODEL })).toMatchObject({
      error: { error: { code: 'model_unavailable' } },
    });
    expect(await control(INFERENCE_MODELS_LOAD, { v: 1, id: '../etc/passwd' })).toMatchObject({
      error: { error: { code: 'INVALID_PAYLOAD' } },
    });
  });
});
