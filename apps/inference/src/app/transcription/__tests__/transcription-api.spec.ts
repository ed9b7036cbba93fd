// Speech recognition end to end (issue 17): POST /v1/audio/transcriptions through the official `openai` SDK and plain
// multipart requests, and inference.transcribe over NATS, on the real service with a tiny Whisper model generated in
// whisper.cpp's format. Every transcript is compared with EngineWhisper run directly on the audio the service should
// have derived from the upload (resampled, mixed down, or 16-bit rounded).
import { readWav, resample, writeWav } from '@sovren/audio';
import { auditAuthRoutes } from '@sovren/auth-guard';
import { EngineWhisper } from '@sovren/engine';
import { WhisperType, writeTinyWhisperModel } from '@sovren/engine/testing';
import {
  INFERENCE_MODELS,
  INFERENCE_TRANSCRIBE,
  parseInferenceModelsReplyV1,
  parseInferenceTranscribeReplyV1,
  type InferenceTranscribeRequestV1,
} from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { connect, type NatsConnection } from 'nats';
import OpenAI, { toFile } from 'openai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  CHAT_MODEL,
  startInferenceTestEnvironment,
  type InferenceTestEnvironment,
} from '../../__tests__/support/inference-test-env';
import { getJson, postJson } from '../../__tests__/support/openai-client';
import { ModelRegistry } from '../../models/model-registry.service';
import { TranscriptionController } from '../transcription.controller';
import { TranscriptionService } from '../transcription.service';

jest.setTimeout(180_000);

const MODEL = 'tiny-test';
const GGUF_MODEL = 'tiny-test-gguf';

let env: InferenceTestEnvironment;
let key: string;
let keyId: string;
let client: OpenAI;
let direct: EngineWhisper;
let nats: NatsConnection;

/** Speech-like audio: a few harmonics with a gliding pitch. */
function audio(seconds: number, rate = 16000, seed = 1): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) {
    const f0 = 140 + 30 * Math.sin((2 * Math.PI * i) / rate) + 20 * seed;
    let v = 0;
    for (let h = 1; h <= 4; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / rate) / h;
    out[i] = 0.25 * v;
  }
  return out;
}

/** What 16-bit WAV storage does to samples: the samples the service reads back from the upload. */
function rounded16(samples: Float32Array, rate = 16000): Float32Array {
  return readWav(writeWav(samples, rate)).samples;
}

async function expectedText(pcm16k: Float32Array): Promise<string> {
  return (await direct.transcribe(pcm16k, { language: 'en' })).text;
}

async function postForm(fields: Record<string, string>, file?: Buffer, credential = key): Promise<Response> {
  const form = new FormData();
  if (file) form.append('file', new Blob([file], { type: 'audio/wav' }), 'audio.wav');
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return fetch(`${env.inference.url}/v1/audio/transcriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}` },
    body: form,
  });
}

beforeAll(async () => {
  env = await startInferenceTestEnvironment();
  const dir = join(env.root, 'models', 'whisper');
  mkdirSync(dir, { recursive: true });
  const tiny = writeTinyWhisperModel(join(dir, `ggml-${MODEL}.bin`), {
    type: WhisperType.F16,
    nAudioLayer: 1,
    nTextLayer: 1,
    nTextCtx: 64,
  });
  // The same weights in GGUF: the registry finds <id>.gguf too, and it must transcribe exactly like the .bin.
  writeTinyWhisperModel(join(dir, `${GGUF_MODEL}.gguf`), {
    type: WhisperType.F16,
    nAudioLayer: 1,
    nTextLayer: 1,
    nTextCtx: 64,
    format: 'gguf',
  });
  writeFileSync(join(dir, 'ggml-zz-broken.bin'), 'not a whisper model');
  direct = await EngineWhisper.load(tiny.path, { threads: 1 });
  const credential = env.auth.apiKey({ scopes: ['audio:transcribe'] });
  key = credential.credential;
  keyId = credential.id;
  client = new OpenAI({ apiKey: key, baseURL: `${env.inference.url}/v1`, maxRetries: 0 });
  nats = await connect({ servers: env.natsUrl });
});

afterAll(async () => {
  await nats?.close();
  direct?.close();
  await env?.dispose();
});

describe('POST /v1/audio/transcriptions', () => {
  it('passes the start-up route audit (guarded, with a catalogued scope)', () => {
    expect(auditAuthRoutes(TranscriptionController)).toEqual([]);
  });

  it('transcribes a 16 kHz WAV through the official SDK exactly as the engine does, and bills the seconds', async () => {
    const samples = audio(1.2);
    const wav = writeWav(samples, 16000);
    const result = await client.audio.transcriptions.create({
      file: await toFile(wav, 'speech.wav', { type: 'audio/wav' }),
      model: MODEL,
      language: 'en',
    });
    expect(result.text).toBe(await expectedText(rounded16(samples)));
    const event = await eventually('the usage event of the SDK request', async () =>
      (await env.usage.read()).find((e) => e.quantities.asr_seconds !== undefined && e.keyId === keyId),
    );
    expect(event.quantities.asr_seconds).toBeCloseTo(1.2, 3);
  });

  it("resamples other rates and answers 'whisper-1' with the installed model", async () => {
    const samples = audio(1, 8000);
    const response = await postForm({ model: 'whisper-1', language: 'en' }, writeWav(samples, 8000));
    expect(response.status).toBe(200);
    const expected = await expectedText(await resample(rounded16(samples, 8000), 8000, 16000));
    expect(((await response.json()) as { text: string }).text).toBe(expected);
  });

  it('answers text, srt, vtt and verbose_json', async () => {
    const wav = writeWav(audio(1), 16000);
    const text = await postForm({ model: MODEL, language: 'en', response_format: 'text' }, wav);
    expect(text.headers.get('content-type')).toContain('text/plain');
    expect(await text.text()).toBe(`${await expectedText(rounded16(audio(1)))}\n`);
    const vtt = await postForm({ model: MODEL, language: 'en', response_format: 'vtt' }, wav);
    expect(await vtt.text()).toMatch(/^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n/);
    const srt = await postForm({ model: MODEL, language: 'en', response_format: 'srt' }, wav);
    expect(await srt.text()).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/);
    const verbose = await postForm({ model: MODEL, language: 'en', response_format: 'verbose_json' }, wav);
    const body = (await verbose.json()) as { language: string; duration: number; segments: unknown[] };
    expect(body.language).toBe('en');
    expect(body.duration).toBeCloseTo(1, 6);
    expect(Array.isArray(body.segments)).toBe(true);
  });

  it('refuses bad audio and bad fields with a clear 400 in the OpenAI error shape', async () => {
    const check = async (response: Response, status: number, code: string, param: string) => {
      expect(response.status).toBe(status);
      const body = (await response.json()) as { error: { code: string; param: string; message: string } };
      expect(body.error).toMatchObject({ code, param });
      expect(body.error.message.length).toBeGreaterThan(0);
    };
    await check(await postForm({ model: MODEL }, Buffer.from('ID3 this is an mp3')), 400, 'invalid_audio', 'file');
    await check(await postForm({ model: MODEL }), 400, 'invalid_audio', 'file');
    await check(await postForm({ model: MODEL }, writeWav(new Float32Array(0), 16000)), 400, 'invalid_audio', 'file');
    await check(
      await postForm({ model: MODEL }, writeWav(new Float32Array(31 * 8000), 8000)),
      400,
      'audio_too_long',
      'file',
    );
    const wav = writeWav(audio(0.5), 16000);
    await check(
      await postForm({ model: MODEL, response_format: 'mp3' }, wav),
      400,
      'unsupported_response_format',
      'response_format',
    );
    await check(await postForm({ model: MODEL, language: 'xx' }, wav), 400, 'invalid_request', 'language');
    await check(await postForm({ model: 'nope' }, wav), 404, 'model_not_found', 'model');
    await check(await postForm({ model: 'zz-broken' }, wav), 503, 'model_invalid', 'model');
  });

  it("conditions on a prompt as Whisper's initial_prompt", async () => {
    const samples = audio(0.7);
    const response = await postForm({ model: MODEL, language: 'en', prompt: 'the end' }, writeWav(samples, 16000));
    expect(response.status).toBe(200);
    const expected = await direct.transcribe(rounded16(samples), { language: 'en', prompt: 'the end' });
    expect(((await response.json()) as { text: string }).text).toBe(expected.text);
  });

  it('refuses a key without the scope', async () => {
    const other = env.auth.apiKey({ scopes: ['inference:generate'] }).credential;
    const response = await postForm({ model: MODEL }, writeWav(audio(0.5), 16000), other);
    expect(response.status).toBe(403);
  });
});

describe('model lifetime', () => {
  it('unloads a Whisper model after SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS without requests, and loads it again', async () => {
    const app = await env.startInference({ SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS: '1' });
    const service = app.app.get(TranscriptionService);
    const samples = audio(0.5);
    const pcm = rounded16(samples);
    const request = {
      endpoint: 'http' as const,
      requestId: 'idle-1',
      ownerId: 'owner-1',
      model: MODEL,
      pcm,
      language: 'en',
    };
    const first = await service.transcribe(request);
    expect(service.loaded()).toEqual([MODEL]);
    await eventually('the idle model to be unloaded', () => service.loaded().length === 0, { timeoutMs: 20_000 });
    const again = await service.transcribe({ ...request, requestId: 'idle-2' });
    expect(again.text).toBe(first.text);
    expect(service.loaded()).toEqual([MODEL]);
  });
});

describe('Whisper models in the model registry', () => {
  // Explicit: an app started by an earlier test may have left its own settings in the environment.
  const NO_IDLE_UNLOAD = { SOVREN_INFERENCE_IDLE_UNLOAD_SECONDS: '0', SOVREN_INFERENCE_LOAD_ON_DEMAND: 'true' };
  type Metadata = { kind: string; state: string; error: string | null; loaded: unknown; whisper: null | object };
  const metadata = async (base: string, id: string) =>
    (await getJson(`${base}/api/v1/inference/models/${id}`, env.apiKey)).body['data'] as Metadata;
  const admin = (base: string, id: string, action: 'load' | 'unload') =>
    postJson(`${base}/api/v1/inference/models/${id}/${action}`, env.adminToken, {});

  it('lists them beside the LLMs in GET /v1/models and inference.models, with their kind', async () => {
    const listed = await getJson(`${env.inference.url}/v1/models`, env.apiKey);
    expect(listed.status).toBe(200);
    const data = listed.body['data'] as Array<{ id: string; object: string; owned_by: string; kind: string }>;
    expect(data.find((m) => m.id === MODEL)).toEqual({
      id: MODEL,
      object: 'model',
      created: expect.any(Number),
      owned_by: 'sovren',
      kind: 'whisper',
    });
    expect(data.find((m) => m.id === 'zz-broken')?.kind).toBe('whisper');
    expect(data.find((m) => m.id === GGUF_MODEL)?.kind).toBe('whisper');
    expect(data.find((m) => m.id === CHAT_MODEL)?.kind).toBe('llm');

    const reply = parseInferenceModelsReplyV1(
      (await nats.request(INFERENCE_MODELS, JSON.stringify({ v: 1 }), { timeout: 10_000 })).json(),
    );
    expect(reply.models.find((m) => m.id === MODEL)).toEqual(expect.objectContaining({ kind: 'whisper' }));
    expect(reply.models.find((m) => m.id === CHAT_MODEL)).toEqual(expect.objectContaining({ kind: 'llm' }));
  });

  it('transcribes with a Whisper model stored as GGUF exactly as with the same weights in ggml-*.bin', async () => {
    const samples = audio(0.9, 16000, 2);
    const response = await postForm({ model: GGUF_MODEL, language: 'en' }, writeWav(samples, 16000));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { text: string };
    expect(body.text).toBe(await expectedText(rounded16(samples)));
  });

  it('refuses a Whisper model for chat with a clear 400 naming the model', async () => {
    const answer = await postJson(`${env.inference.url}/v1/chat/completions`, env.apiKey, {
      model: MODEL,
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(answer.status).toBe(400);
    expect(answer.body['error']).toMatchObject({ param: 'model' });
    expect(answer.body['error'].message).toContain('Whisper');
  });

  it('loads the ones SOVREN_INFERENCE_LOAD_AT_START names, and reports one that cannot load', async () => {
    const app = await env.startInference({ ...NO_IDLE_UNLOAD, SOVREN_INFERENCE_LOAD_AT_START: `${MODEL},zz-broken` });
    const states = await eventually(
      'the models named at start to finish loading',
      async () => {
        const [tiny, broken] = [await metadata(app.url, MODEL), await metadata(app.url, 'zz-broken')];
        return tiny.state !== 'loading' && broken.state !== 'loading' && { tiny, broken };
      },
      { timeoutMs: 30_000 },
    );
    expect(states.tiny).toEqual(
      expect.objectContaining({ kind: 'whisper', state: 'loaded', error: null, loaded: null }),
    );
    expect(states.tiny.whisper).toEqual(
      expect.objectContaining({ n_mels: 80, n_text_ctx: 64, active_transcriptions: 0 }),
    );
    expect(states.broken).toEqual(expect.objectContaining({ kind: 'whisper', state: 'failed', whisper: null }));
    expect(states.broken.error?.length).toBeGreaterThan(0);
    expect(states.broken.error).not.toContain(env.root);
    expect((await metadata(app.url, CHAT_MODEL)).state).toBe('unloaded');
  });

  it('loads and unloads them through the admin routes; the next request loads the model again', async () => {
    const app = await env.startInference(NO_IDLE_UNLOAD);
    const registry = app.app.get(ModelRegistry);
    const loaded = await admin(app.url, MODEL, 'load');
    expect(loaded.status).toBe(200);
    expect(loaded.body['data']).toEqual(expect.objectContaining({ id: MODEL, kind: 'whisper', state: 'loaded' }));
    const inUse = registry.memoryInUse();
    expect(inUse).toBe(loaded.body['data'].file_bytes);

    const unloaded = await admin(app.url, MODEL, 'unload');
    expect(unloaded.status).toBe(200);
    expect(unloaded.body['data']).toEqual(expect.objectContaining({ state: 'unloaded', was_loaded: true }));
    expect(registry.memoryInUse()).toBe(0);

    const samples = audio(0.6);
    const form = new FormData();
    form.append('file', new Blob([writeWav(samples, 16000)], { type: 'audio/wav' }), 'audio.wav');
    form.append('model', MODEL);
    form.append('language', 'en');
    const response = await fetch(`${app.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { text: string }).text).toBe(await expectedText(rounded16(samples)));
    expect((await metadata(app.url, MODEL)).state).toBe('loaded');

    const refused = await postJson(`${app.url}/api/v1/inference/models/${MODEL}/load`, env.apiKey, {});
    expect(refused.status).toBe(403);
  });

  it('with SOVREN_INFERENCE_LOAD_ON_DEMAND=false serves only a model an admin (or the start) loaded', async () => {
    const app = await env.startInference({ ...NO_IDLE_UNLOAD, SOVREN_INFERENCE_LOAD_ON_DEMAND: 'false' });
    const post = async () => {
      const form = new FormData();
      form.append('file', new Blob([writeWav(audio(0.4), 16000)], { type: 'audio/wav' }), 'audio.wav');
      form.append('model', MODEL);
      return fetch(`${app.url}/v1/audio/transcriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body: form,
      });
    };
    const refused = await post();
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('model_not_loaded');
    expect((await admin(app.url, MODEL, 'load')).status).toBe(200);
    expect((await post()).status).toBe(200);
  });

  it('counts Whisper and LLM bytes against one memory budget and refuses a load past it with the same error', async () => {
    // The tiny Whisper model is 7.5 MiB and the chat model 5.5 MiB: either fits in 10 MiB, not both.
    const app = await env.startInference({ ...NO_IDLE_UNLOAD, SOVREN_INFERENCE_MODEL_MEMORY_MB: '10' });
    expect((await admin(app.url, CHAT_MODEL, 'load')).status).toBe(200);

    const wav = writeWav(audio(0.5), 16000);
    const form = new FormData();
    form.append('file', new Blob([wav], { type: 'audio/wav' }), 'audio.wav');
    form.append('model', MODEL);
    const transcribed = await fetch(`${app.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
      body: form,
    });
    expect(transcribed.status).toBe(503);
    const body = (await transcribed.json()) as { error: { code: string; param: string; message: string } };
    expect(body.error).toMatchObject({ code: 'model_memory_exceeded', param: 'model' });
    expect(body.error.message).toMatch(
      new RegExp(`The model '${MODEL}' \\(8 MiB\\) cannot be loaded: .* of the 10 MiB budget`),
    );

    const adminLoad = await admin(app.url, MODEL, 'load');
    expect(adminLoad.status).toBe(503);
    expect(JSON.stringify(adminLoad.body)).toContain('budget for models');
    expect((await metadata(app.url, MODEL)).state).toBe('unloaded');

    // The other way round: a loaded Whisper model keeps an LLM out.
    expect((await admin(app.url, CHAT_MODEL, 'unload')).status).toBe(200);
    expect((await admin(app.url, MODEL, 'load')).status).toBe(200);
    const llm = await postJson(`${app.url}/v1/chat/completions`, env.apiKey, {
      model: CHAT_MODEL,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 2,
    });
    expect(llm.status).toBe(503);
    expect(llm.body['error']).toMatchObject({ code: 'model_memory_exceeded' });
    expect(llm.body['error'].message).toContain(`The model '${CHAT_MODEL}'`);
  });
});

describe('inference.transcribe over NATS', () => {
  const request = (fields: Partial<InferenceTranscribeRequestV1>): InferenceTranscribeRequestV1 => ({
    v: 1,
    requestId: `nats-${Math.random().toString(36).slice(2)}`,
    ownerId: 'owner-1',
    model: MODEL,
    audio: '',
    ...fields,
  });
  const ask = async (body: InferenceTranscribeRequestV1) =>
    parseInferenceTranscribeReplyV1(
      (await nats.request(INFERENCE_TRANSCRIBE, JSON.stringify(body), { timeout: 60_000 })).json(),
    );

  it('transcribes 16-bit PCM like the engine, with timings, and publishes a usage event', async () => {
    const samples = rounded16(audio(0.8));
    const pcm = writeWav(audio(0.8), 16000).subarray(44); // the 16-bit PCM after the canonical 44-byte header
    const body = request({ audio: pcm.toString('base64'), language: 'en' });
    const reply = await ask(body);
    if (!reply.ok) throw new Error(`refused: ${reply.error.message}`);
    expect(reply.text).toBe(await expectedText(samples));
    expect(reply.language).toBe('en');
    expect(reply.audioSeconds).toBeCloseTo(0.8, 6);
    expect(reply.timings.totalMs).toBeGreaterThan(0);
    const [event] = await env.usage.forRequest(body.requestId);
    expect(event.quantities).toEqual({ asr_seconds: reply.audioSeconds });
  });

  it("carries Whisper's whole 30 s window (1.28 MB of base64, over NATS's 1 MiB default message limit)", async () => {
    const pcm = writeWav(audio(30), 16000).subarray(44);
    const body = request({ audio: pcm.toString('base64'), language: 'en' });
    expect(Buffer.byteLength(JSON.stringify(body))).toBeGreaterThan(1024 * 1024);
    const reply = await ask(body);
    if (!reply.ok) throw new Error(`refused: ${reply.error.message}`);
    expect(reply.audioSeconds).toBeCloseTo(30, 6);
  });

  it('answers errors with the HTTP codes', async () => {
    const reply = await ask(request({ model: 'nope', audio: 'AAAAAA==' }));
    expect(reply).toMatchObject({ ok: false, error: { code: 'model_not_found' } });
    const odd = await ask(request({ audio: 'AAAA' }));
    expect(odd).toMatchObject({ ok: false, error: { code: 'invalid_audio' } });
  });
});
