// Acceptance of the OpenAI API part 2 (issue 21), driven by the official `openai` npm SDK as a user would: a
// tool-call round trip (plain and streamed through the SDK's own stream accumulator), a json_schema answer that
// parses and validates with ajv, logprobs, n = 3, logit_bias, embeddings (bert, nomic-bert and a llama model,
// against the float64 reference), and the 400s for what is not supported.
// Real service, real NATS, PostgreSQL and engine; the tiny generated models answer at random, so every structured
// answer here is the grammar's doing.
import Ajv2020 from 'ajv/dist/2020';
import { jsonSchemaToGrammar } from '@sovren/engine';
import {
  GbnfMatcher,
  bertReferenceEmbedding,
  relativeL2,
  writeTinyBert,
  writeTinyModel,
  type TinyBert,
} from '@sovren/engine/testing';
import { join } from 'node:path';
import OpenAI from 'openai';

import { ModelRegistry } from '../models/model-registry.service';
import { startInferenceTestEnvironment, type InferenceTestEnvironment } from './support/inference-test-env';

/** A tiny chat model with room for tool definitions in the prompt (the shared ones have 256 tokens). */
const CHAT_MODEL = 'tiny-tools';
/** Tiny encoders: nomic-bert (mean pooling, trained for truncation) and bert (CLS pooling). */
const NOMIC_MODEL = 'tiny-nomic-embed';
const BERT_MODEL = 'tiny-bert-embed';

jest.setTimeout(180_000);

let env: InferenceTestEnvironment;
let client: OpenAI;
let nomic: TinyBert;
let bert: TinyBert;
const ajv = new Ajv2020({ strict: false });

beforeAll(async () => {
  env = await startInferenceTestEnvironment({ SOVREN_INFERENCE_SEQUENCE_CONTEXT: '1024' });
  await writeTinyModel(join(env.root, 'models', 'llms', `${CHAT_MODEL}.gguf`), {
    contextLength: 1024,
    muteEndOfGeneration: true,
    seed: 7,
  });
  const llms = join(env.root, 'models', 'llms');
  nomic = await writeTinyBert(join(llms, `${NOMIC_MODEL}.gguf`), { architecture: 'nomic-bert', pooling: 'mean' });
  bert = await writeTinyBert(join(llms, `${BERT_MODEL}.gguf`), { architecture: 'bert', pooling: 'cls' });
  client = new OpenAI({ apiKey: env.apiKey, baseURL: `${env.inference.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await env?.dispose();
});

/** Arguments whose every path is bounded, so a random model always finishes them within max_tokens. */
const WEATHER_PARAMETERS = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 6 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    details: { type: 'boolean' },
  },
  required: ['city', 'unit', 'details'],
  additionalProperties: false,
};

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'get_weather', description: 'Current weather of a city', parameters: WEATHER_PARAMETERS },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Local time in a zone',
      parameters: { type: 'object', properties: { zone: { enum: ['CET', 'UTC'] } }, required: ['zone'] },
    },
  },
];

const QUESTION: OpenAI.Chat.Completions.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris?' };

describe('tool calls through the official SDK', () => {
  it('round trip: a forced call with schema-valid arguments, then the tool result answered as text', async () => {
    const first = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [QUESTION],
      tools: TOOLS,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_completion_tokens: 120,
      seed: 11,
    });
    const choice = first.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error(`expected a function call, got ${JSON.stringify(choice.message)}`);
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{24}$/);
    expect(call.function.name).toBe('get_weather');
    const args: unknown = JSON.parse(call.function.arguments);
    expect(ajv.validate(WEATHER_PARAMETERS, args)).toBe(true);

    const second = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [QUESTION, choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 18}' }],
      tools: TOOLS,
      tool_choice: 'auto',
      max_completion_tokens: 8,
      seed: 12,
    });
    expect(second.choices[0].message.tool_calls).toBeUndefined();
    expect(typeof second.choices[0].message.content).toBe('string');
    expect(second.usage?.prompt_tokens).toBeGreaterThan(first.usage?.prompt_tokens ?? 0);
  });

  it('streams the call as OpenAI deltas that the SDK accumulates into the same call', async () => {
    const body = {
      model: CHAT_MODEL,
      messages: [QUESTION],
      tools: TOOLS,
      tool_choice: { type: 'function' as const, function: { name: 'get_weather' } },
      max_completion_tokens: 120,
      seed: 11,
    };
    const plain = await client.chat.completions.create(body);
    const stream = client.chat.completions.stream({ ...body, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    const streamed = final.choices[0];
    expect(streamed.finish_reason).toBe('tool_calls');
    const call = streamed.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('expected a streamed function call');
    expect(call.function.name).toBe('get_weather');
    // Same seed, same arguments: the stream carries exactly what the plain answer did.
    const plainCall = plain.choices[0].message.tool_calls?.[0];
    expect(plainCall?.type === 'function' && plainCall.function.arguments).toBe(call.function.arguments);
    expect(final.usage?.completion_tokens).toBe(plain.usage?.completion_tokens);
  });

  it('tool_choice "required" calls declared functions only, with valid arguments, streamed or not', async () => {
    const body = {
      model: CHAT_MODEL,
      messages: [QUESTION],
      tools: TOOLS,
      tool_choice: 'required' as const,
      parallel_tool_calls: false,
      max_completion_tokens: 150,
    };
    for (const seed of [1, 2, 3]) {
      const answer = await client.chat.completions.create({ ...body, seed });
      const calls = answer.choices[0].message.tool_calls ?? [];
      expect(answer.choices[0].finish_reason).toBe('tool_calls');
      expect(calls).toHaveLength(1);
      const fn = calls[0].type === 'function' ? calls[0].function : undefined;
      const tool = TOOLS.find((t) => t.type === 'function' && t.function.name === fn?.name);
      if (!fn || tool?.type !== 'function') throw new Error(`unexpected call ${JSON.stringify(calls[0])}`);
      expect(ajv.validate(tool.function.parameters ?? {}, JSON.parse(fn.arguments))).toBe(true);
    }
    const streamed = await client.chat.completions.stream({ ...body, seed: 1 }).finalChatCompletion();
    expect(streamed.choices[0].message.tool_calls).toHaveLength(1);
  });
});

describe('structured outputs', () => {
  const SCHEMA = {
    type: 'object',
    properties: {
      answer: { type: 'string', maxLength: 10 },
      confidence: { enum: ['low', 'medium', 'high'] },
      tags: { type: 'array', items: { type: 'string', enum: ['a', 'b', 'c'] }, maxItems: 3 },
      flag: { type: ['boolean', 'null'] },
    },
    required: ['answer', 'confidence', 'tags', 'flag'],
    additionalProperties: false,
  };

  it('a json_schema answer always parses and validates (ajv), over several seeds', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const answer = await client.chat.completions.create({
        model: CHAT_MODEL,
        messages: [{ role: 'user', content: 'Describe the sky as JSON' }],
        response_format: { type: 'json_schema', json_schema: { name: 'sky', schema: SCHEMA, strict: true } },
        max_completion_tokens: 150,
        seed,
      });
      const text = answer.choices[0].message.content ?? '';
      expect(answer.choices[0].finish_reason).toBe('stop');
      const value: unknown = JSON.parse(text);
      if (!ajv.validate(SCHEMA, value)) throw new Error(`${text}: ${ajv.errorsText()}`);
    }
  });

  it('json_object mode answers an object (bounded by max_tokens: a cut answer says length)', async () => {
    const answer = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'JSON please' }],
      response_format: { type: 'json_object' },
      max_completion_tokens: 200,
      seed: 3,
    });
    const text = answer.choices[0].message.content ?? '';
    expect(text.trimStart().startsWith('{')).toBe(true);
    if (answer.choices[0].finish_reason === 'stop') expect(typeof JSON.parse(text)).toBe('object');
  });

  it('fuzz: many schemas and prompts; a finished answer validates, a cut one is a prefix the grammar allows', async () => {
    const schemas: Array<Record<string, unknown>> = [
      { type: 'object', properties: { n: { type: 'integer' }, s: { type: 'string' } }, required: ['n', 's'] },
      { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 4 },
      { enum: ['yes', 'no', 42, null] },
      { type: 'object', additionalProperties: { type: 'boolean' } },
      {
        $defs: {
          leaf: { type: 'object', properties: { v: { type: ['string', 'null'], maxLength: 3 } }, required: ['v'] },
        },
        type: 'object',
        properties: { a: { $ref: '#/$defs/leaf' }, b: { type: 'array', items: { $ref: '#/$defs/leaf' }, maxItems: 2 } },
        required: ['a'],
      },
      {
        anyOf: [
          { type: 'string', maxLength: 4 },
          { type: 'object', properties: { k: { const: 1 } }, required: ['k'] },
        ],
      },
      { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' }, z: { type: 'boolean' } } },
      {},
    ];
    const prompts = ['Answer in JSON', 'Give me data', '¿Qué tiempo hace?', 'List three things'];
    let finished = 0;
    for (const [i, schema] of schemas.entries()) {
      const matcher = new GbnfMatcher(jsonSchemaToGrammar(schema));
      const validate = ajv.compile(schema);
      for (const [j, prompt] of prompts.entries()) {
        const answer = await client.chat.completions.create({
          model: CHAT_MODEL,
          messages: [{ role: 'user', content: prompt }],
          response_format: { type: 'json_schema', json_schema: { name: `s${i}`, schema } },
          max_completion_tokens: 60,
          seed: 100 * i + j,
        });
        const text = answer.choices[0].message.content ?? '';
        if (answer.choices[0].finish_reason === 'stop') {
          finished += 1;
          const value: unknown = JSON.parse(text);
          if (!validate(value))
            throw new Error(`schema ${i}, prompt ${j}: ${text}: ${ajv.errorsText(validate.errors)}`);
        } else {
          expect(answer.choices[0].finish_reason).toBe('length');
          if (!matcher.acceptsPrefix(text)) throw new Error(`schema ${i}, prompt ${j}: ${text} is no grammar prefix`);
        }
      }
    }
    expect(finished).toBeGreaterThan(schemas.length);
  });

  it('refuses a schema keyword the grammar cannot enforce, naming it', async () => {
    const call = client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [QUESTION],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a$' } } },
    });
    await expect(call).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(call).rejects.toMatchObject({ param: 'response_format.json_schema.schema' });
  });
});

describe('logprobs, n and logit_bias', () => {
  it('chat logprobs: one entry per token with top_logprobs sorted, the greedy pick being the best', async () => {
    const answer = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [QUESTION],
      logprobs: true,
      top_logprobs: 3,
      temperature: 0,
      max_completion_tokens: 6,
    });
    const content = answer.choices[0].logprobs?.content ?? [];
    expect(content).toHaveLength(answer.usage?.completion_tokens ?? -1);
    expect(content.map((c) => c.token).join('')).toBe(answer.choices[0].message.content);
    for (const entry of content) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs).toHaveLength(3);
      const tops = entry.top_logprobs.map((t) => t.logprob);
      expect([...tops].sort((a, b) => b - a)).toEqual(tops);
      expect(entry.logprob).toBeCloseTo(tops[0], 5);
      expect(entry.bytes).toEqual([...Buffer.from(entry.token, 'utf8')]);
    }
  });

  it('streams logprobs with the chunks whose text they made', async () => {
    const body = {
      model: CHAT_MODEL,
      messages: [QUESTION],
      logprobs: true,
      top_logprobs: 2,
      max_completion_tokens: 6,
      seed: 4,
    };
    const plain = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true });
    const tokens: string[] = [];
    let text = '';
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (!c) continue;
      text += c.delta.content ?? '';
      for (const entry of c.logprobs?.content ?? []) {
        expect(entry.top_logprobs).toHaveLength(2);
        tokens.push(entry.token);
      }
    }
    expect(text).toBe(plain.choices[0].message.content);
    expect(tokens).toEqual(plain.choices[0].logprobs?.content?.map((c) => c.token));
  });

  it('completion logprobs: tokens, token_logprobs, top_logprobs and text offsets', async () => {
    const answer = await client.completions.create({
      model: CHAT_MODEL,
      prompt: 'Once upon a time',
      logprobs: 2,
      max_tokens: 5,
      temperature: 0,
    });
    const lp = answer.choices[0].logprobs;
    // (The engine's incremental detokeniser drops the first generated token's leading space; single tokens keep it.)
    expect(lp?.tokens?.join('').trimStart()).toBe(answer.choices[0].text.trimStart());
    expect(lp?.token_logprobs).toHaveLength(lp?.tokens?.length ?? -1);
    expect(lp?.top_logprobs?.every((t) => Object.keys(t).length >= 1 && Object.keys(t).length <= 2)).toBe(true);
    expect(lp?.text_offset?.[0]).toBe(0);
  });

  it('n = 3: three choices from one request, usage counting the prompt once; streamed with choice indices', async () => {
    const requestId = 'sdk-n3';
    const answer = await client.chat.completions.create(
      { model: CHAT_MODEL, messages: [QUESTION], n: 3, max_completion_tokens: 8, seed: 5 },
      { headers: { 'X-Request-Id': requestId } },
    );
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(answer.choices.map((c) => c.message.content)).size).toBeGreaterThan(1);
    const single = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [QUESTION],
      max_completion_tokens: 8,
      seed: 5,
    });
    expect(answer.usage?.prompt_tokens).toBe(single.usage?.prompt_tokens);
    expect(answer.choices[0].message.content).toBe(single.choices[0].message.content);
    const [event] = await env.usage.forRequest(requestId);
    expect(event.quantities.llm_tokens_in).toBe(answer.usage?.prompt_tokens);
    expect(event.quantities.llm_tokens_out).toBe(answer.usage?.completion_tokens);

    const stream = await client.chat.completions.create({
      model: CHAT_MODEL,
      messages: [QUESTION],
      n: 3,
      max_completion_tokens: 8,
      seed: 5,
      stream: true,
    });
    const texts = ['', '', ''];
    const finished: Array<string | null> = [null, null, null];
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        texts[c.index] += c.delta.content ?? '';
        if (c.finish_reason) finished[c.index] = c.finish_reason;
      }
    }
    expect(texts).toEqual(answer.choices.map((c) => c.message.content));
    expect(finished.every((f) => f !== null)).toBe(true);
  });

  it('logit_bias -100 bans the token greedy decoding picked', async () => {
    const body = {
      model: CHAT_MODEL,
      messages: [QUESTION],
      temperature: 0,
      max_completion_tokens: 1,
      logprobs: true,
    };
    const first = await client.chat.completions.create(body);
    const token = first.choices[0].logprobs?.content?.[0].token ?? '';
    const model = await env.inference.app.get(ModelRegistry).acquire(CHAT_MODEL);
    // Every id whose text is that token's (the greedy pick is one of them).
    const bias: Record<string, number> = {};
    for (let id = 0; id < model.info.vocabSize; id++) {
      if (model.engine.detokenize([id], { renderSpecial: true }) === token) bias[String(id)] = -100;
    }
    expect(Object.keys(bias).length).toBeGreaterThan(0);
    const banned = await client.chat.completions.create({ ...body, logit_bias: bias });
    expect(banned.choices[0].logprobs?.content?.[0].token).not.toBe(token);
    await expect(client.chat.completions.create({ ...body, logit_bias: { '99999999': 5 } })).rejects.toMatchObject({
      status: 400,
      param: 'logit_bias',
    });
  });
});

describe('embeddings through the official SDK', () => {
  const TEXTS = ['The quick brown fox jumps over the lazy dog.', 'Sovereign AI means your data stays on your machines'];

  async function tokensOf(model: string, text: string): Promise<number[]> {
    return (await env.inference.app.get(ModelRegistry).acquire(model)).engine.tokenize(text);
  }

  it('nomic-bert: a batch of texts (base64, the SDK default) matches the float64 reference, with a usage event', async () => {
    const requestId = 'sdk-embeddings-nomic';
    const answer = await client.embeddings.create(
      { model: NOMIC_MODEL, input: TEXTS },
      { headers: { 'X-Request-Id': requestId } },
    );
    expect(answer.object).toBe('list');
    expect(answer.model).toBe(NOMIC_MODEL);
    const tokens = await Promise.all(TEXTS.map((t) => tokensOf(NOMIC_MODEL, t)));
    expect(answer.data.map((d) => d.index)).toEqual([0, 1]);
    answer.data.forEach((d, i) => {
      expect(d.embedding).toHaveLength(128);
      expect(relativeL2(d.embedding, bertReferenceEmbedding(nomic.weights, tokens[i], 'mean', true))).toBeLessThan(
        1e-5,
      );
    });
    const promptTokens = tokens[0].length + tokens[1].length;
    expect(answer.usage).toEqual({ prompt_tokens: promptTokens, total_tokens: promptTokens });
    const [event] = await env.usage.forRequest(requestId);
    expect(event.quantities).toEqual({ llm_tokens_in: promptTokens, llm_tokens_out: 0 });
    expect(event.llm?.model).toBe(NOMIC_MODEL);

    // encoding_format float sends the same numbers as JSON.
    const floats = await client.embeddings.create({ model: NOMIC_MODEL, input: TEXTS, encoding_format: 'float' });
    floats.data.forEach((d, i) => expect(d.embedding).toEqual(answer.data[i].embedding));
  });

  it('nomic-bert: dimensions keeps a re-normalised prefix of the vector', async () => {
    const [full] = (await client.embeddings.create({ model: NOMIC_MODEL, input: TEXTS[0] })).data;
    const [short] = (await client.embeddings.create({ model: NOMIC_MODEL, input: TEXTS[0], dimensions: 64 })).data;
    expect(short.embedding).toHaveLength(64);
    const prefix = full.embedding.slice(0, 64);
    const norm = Math.hypot(...prefix);
    expect(
      relativeL2(
        short.embedding,
        prefix.map((v) => v / norm),
      ),
    ).toBeLessThan(1e-6);
    await expect(
      client.embeddings.create({ model: NOMIC_MODEL, input: TEXTS[0], dimensions: 129 }),
    ).rejects.toMatchObject({ status: 400, param: 'dimensions' });
  });

  it('bert: token-id inputs give the CLS embedding; dimensions is refused for a model not trained for it', async () => {
    const ids = [
      [2, 40, 41, 42, 3],
      [2, 7, 3],
    ];
    const answer = await client.embeddings.create({ model: BERT_MODEL, input: ids, encoding_format: 'float' });
    answer.data.forEach((d, i) =>
      expect(relativeL2(d.embedding, bertReferenceEmbedding(bert.weights, ids[i], 'cls', true))).toBeLessThan(1e-5),
    );
    expect(answer.usage.prompt_tokens).toBe(8);
    await expect(client.embeddings.create({ model: BERT_MODEL, input: 'x', dimensions: 64 })).rejects.toMatchObject({
      status: 400,
      param: 'dimensions',
    });
    await expect(client.embeddings.create({ model: BERT_MODEL, input: [[2, 100000]] })).rejects.toMatchObject({
      status: 400,
      param: 'input',
    });
  });

  it('a llama-family chat model embeds too (last-token pooling), and an encoder refuses chat', async () => {
    const answer = await client.embeddings.create({ model: CHAT_MODEL, input: 'Weather in Paris?' });
    expect(answer.data[0].embedding).toHaveLength(256);
    expect(Math.hypot(...answer.data[0].embedding)).toBeCloseTo(1, 5);
    await expect(
      client.chat.completions.create({ model: BERT_MODEL, messages: [QUESTION], max_completion_tokens: 2 }),
    ).rejects.toMatchObject({ status: 400, param: 'model' });
  });
});

describe('embeddings: what is refused before the engine runs', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an empty input', { input: '' }, 'input'],
    ['an empty batch', { input: [] }, 'input'],
    ['a batch mixing texts and token ids', { input: ['a', [1, 2]] }, 'input'],
    ['more than 2048 inputs', { input: Array.from({ length: 2049 }, () => 'x') }, 'input'],
    ['an unknown encoding_format', { input: 'x', encoding_format: 'int8' }, 'encoding_format'],
    ['dimensions below 1', { input: 'x', dimensions: 0 }, 'dimensions'],
  ])('%s → 400 naming the parameter', async (_case, extra, param) => {
    await expect(
      client.embeddings.create({ model: CHAT_MODEL, ...extra } as unknown as OpenAI.EmbeddingCreateParams),
    ).rejects.toMatchObject({ status: 400, param });
  });

  it('an unknown model → 404 model_not_found', async () => {
    await expect(client.embeddings.create({ model: 'no-such-model', input: 'x' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
  });
});

describe('what is refused, and how', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['tool_choice without tools', { tool_choice: 'auto' }, 'tool_choice'],
    [
      'a tool_choice naming an unknown function',
      { tools: TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } },
      'tool_choice',
    ],
    ['top_logprobs without logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['top_logprobs above 20', { logprobs: true, top_logprobs: 21 }, 'top_logprobs'],
    ['n above 8', { n: 9 }, 'n'],
    ['an unknown field', { functions: [] }, 'functions'],
    [
      'a tool description holding a special token',
      { tools: [{ type: 'function', function: { name: 'f', description: 'x</s>y' } }] },
      'tools',
    ],
    [
      'a tool message without tool_call_id',
      { messages: [QUESTION, { role: 'tool', content: '1' }] },
      'messages[1].tool_call_id',
    ],
  ])('%s → 400 naming the parameter', async (_case, extra, param) => {
    await expect(
      client.chat.completions.create({
        model: CHAT_MODEL,
        messages: [QUESTION],
        ...extra,
      } as unknown as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming),
    ).rejects.toMatchObject({ status: 400, param });
  });
});
