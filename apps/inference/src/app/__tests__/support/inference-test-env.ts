// Test support: the inference app as it runs in production, in this process — real private NATS with
// JetStream, a throwaway PostgreSQL database, a temp SOVREN_ROOT with generated GGUF models — next to the real
// auth app answering auth.validate, with a user, an API key created through auth's HTTP API, and an admin.
// Auth's own test support (environment, app start) is reused at run time rather than copied: apps never import
// each other, so it is loaded by path.
import { INestApplication } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { ensureStreams, STREAM_USAGE, parseUsageEventV1, type UsageEventV1 } from '@sovren/messaging';
import { writeTinyModel, type TinyModelOptions } from '@sovren/engine/testing';
import { eventually, NatsTestServer } from '@sovren/testing';

import { InferenceModule } from '../../inference.module';

const WORKSPACE = resolve(__dirname, '../../../../../..');

interface RunningApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

interface AuthEnvironment {
  root: string;
  env: Record<string, string>;
  nats: { url: string };
  dispose(): Promise<void>;
}

interface AuthSupport {
  createAuthTestEnvironment(extraEnv?: Record<string, string>): Promise<AuthEnvironment>;
  startApp(moduleClass: unknown, env: Record<string, string>): Promise<RunningApp>;
  startAuthApp(environment: AuthEnvironment): Promise<RunningApp>;
}

type Token<T> = abstract new (...args: never[]) => T;

async function fromAuth<T>(relativePath: string): Promise<T> {
  return (await import(join(WORKSPACE, 'apps/auth/src/app', relativePath))) as T;
}

/** Models every suite gets, in SOVREN_ROOT/models/llms (id = file stem). */
export const CHAT_MODEL = 'tiny-chat';
export const PLAIN_MODEL = 'tiny-plain';
export const SLOW_MODEL = 'tiny-slow';
export const BROKEN_MODEL = 'broken';
export const SEQUENCE_CONTEXT = 256;

const BASE_MODEL: TinyModelOptions = { contextLength: 256, muteEndOfGeneration: true, seed: 7 };
/** The slow model's shape (6 layers, dim 512): long generations take a noticeable time. */
export const SLOW_MODEL_OPTIONS: TinyModelOptions = {
  ...BASE_MODEL,
  dim: 512,
  hiddenDim: 1536,
  nLayers: 6,
  nHeads: 8,
  nKvHeads: 4,
};

export interface InferenceTestEnvironment {
  auth: RunningApp;
  inference: RunningApp;
  root: string;
  /** `Authorization: Bearer <API key with inference:generate>` of an ordinary user. */
  apiKey: string;
  apiKeyId: string;
  userId: string;
  /** A session token of an admin user. */
  adminToken: string;
  usage: UsageCollector;
  natsUrl: string;
  /** The suite's own nats-server (auth and inference both use it): stop() and restart() simulate an outage. */
  nats: NatsTestServer;
  /** Starts one more inference app on the same NATS, database and models, with `extraEnv` on top (closed by dispose). */
  startInference(extraEnv?: Record<string, string>): Promise<RunningApp>;
  dispose(): Promise<void>;
}

/** Writes the test models: a chat model with its own template, one without any, a slower one, a broken file. */
export async function writeTestModels(directory: string): Promise<void> {
  mkdirSync(directory, { recursive: true });
  await writeTinyModel(join(directory, `${CHAT_MODEL}.gguf`), BASE_MODEL);
  const plain = join(directory, `${PLAIN_MODEL}.gguf`);
  await writeTinyModel(plain, { ...BASE_MODEL, seed: 8 });
  removeChatTemplate(plain);
  await writeTinyModel(join(directory, `${SLOW_MODEL}.gguf`), SLOW_MODEL_OPTIONS);
  writeFileSync(join(directory, `${BROKEN_MODEL}.gguf`), 'this is not a GGUF file');
}

/**
 * The generator always writes `tokenizer.chat_template`; renaming the key in place (same length, so every offset
 * stays valid) gives a model without a template, as many GGUF conversions are.
 */
function removeChatTemplate(path: string): void {
  const bytes = readFileSync(path);
  const key = Buffer.from('tokenizer.chat_template');
  const at = bytes.indexOf(key);
  if (at < 0) throw new Error(`${path} has no chat template key to remove`);
  Buffer.from('tokenizer.chat_templatX').copy(bytes, at);
  writeFileSync(path, bytes);
}

export async function startInferenceTestEnvironment(
  extraEnv: Record<string, string> = {},
): Promise<InferenceTestEnvironment> {
  const support = await fromAuth<AuthSupport>('__tests__/support/auth-test-app');
  // Our own server rather than auth's private one: the outage spec needs to stop and restart it.
  const nats = await NatsTestServer.start({ jetstream: true });
  const environment = await support.createAuthTestEnvironment({
    SOVREN_NATS_URL: nats.url,
    SOVREN_INFERENCE_SEQUENCE_CONTEXT: String(SEQUENCE_CONTEXT),
    SOVREN_INFERENCE_THREADS: '1',
    SOVREN_INFERENCE_MAX_SEQUENCES: '4',
    SOVREN_INFERENCE_MAX_QUEUE: '2',
    SOVREN_INFERENCE_PROMPT_CHUNK: '32',
    SOVREN_INFERENCE_LOAD_AT_START: 'none',
    SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR: '100000',
    ...extraEnv,
  });
  await writeTestModels(join(environment.root, 'models', 'llms'));
  const auth = await support.startAuthApp(environment);
  const { UsersRepository } = await fromAuth<{
    UsersRepository: Token<{
      create(f: { email: string | null; displayName: string; role?: 'user' | 'admin' }): { id: string };
    }>;
  }>('users/users.repository');
  const { SessionService } = await fromAuth<{
    SessionService: Token<{ create(userId: string, o: { deviceId: string }): { accessToken: string } }>;
  }>('sessions/session.service');
  const users = auth.app.get(UsersRepository);
  const sessions = auth.app.get(SessionService);
  const user = users.create({ email: 'dev@example.com', displayName: 'Developer' });
  const admin = users.create({ email: 'ops@example.com', displayName: 'Operator', role: 'admin' });
  const userSession = sessions.create(user.id, { deviceId: 'test' });
  const adminSession = sessions.create(admin.id, { deviceId: 'test' });
  const created = await fetch(`${auth.url}/api/v1/auth/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${userSession.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'inference tests', scopes: ['inference:generate'] }),
  });
  const key = (await created.json()) as { data?: { key: string; id: string } };
  if (created.status !== 201 || !key.data)
    throw new Error(`creating the API key failed: ${created.status} ${JSON.stringify(key)}`);
  const extraApps: RunningApp[] = [];
  const inference = await support.startApp(InferenceModule, environment.env);
  const usage = await UsageCollector.start(nats.url);
  return {
    auth,
    inference,
    root: environment.root,
    apiKey: key.data.key,
    apiKeyId: key.data.id,
    userId: user.id,
    adminToken: adminSession.accessToken,
    usage,
    natsUrl: nats.url,
    nats,
    startInference: async (extraEnv = {}) => {
      const app = await support.startApp(InferenceModule, { ...environment.env, ...extraEnv });
      extraApps.push(app);
      return app;
    },
    dispose: async () => {
      await usage.close();
      for (const app of extraApps) await app.close();
      await inference.close();
      await auth.close();
      await environment.dispose();
      await nats.dispose();
    },
  };
}

/**
 * Reads every usage event from the USAGE stream (from its start) by direct gets, message by message: no consumer,
 * because USAGE is a work-queue stream (an ordered consumer never receives there) whose consumer is billing's.
 */
export class UsageCollector {
  readonly events: UsageEventV1[] = [];
  private nextSeq = 1;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {}

  static async start(url: string): Promise<UsageCollector> {
    const connection = await connect({ servers: url });
    const jsm = await connection.jetstreamManager();
    // The stream may not be there yet (the app creates it once connected): ensuring it is idempotent.
    await ensureStreams(jsm);
    return new UsageCollector(connection, jsm);
  }

  /** Adds the events the stream gained since the last read. */
  async read(): Promise<UsageEventV1[]> {
    const { state } = await this.jsm.streams.info(STREAM_USAGE);
    for (let seq = Math.max(this.nextSeq, state.first_seq); seq <= state.last_seq; seq++) {
      // A sequence can be missing (deleted): it holds nothing to read.
      const message = await this.jsm.streams.getMessage(STREAM_USAGE, { seq }).catch(() => undefined);
      if (message) this.events.push(parseUsageEventV1(message.json()));
    }
    this.nextSeq = Math.max(this.nextSeq, state.last_seq + 1);
    return this.events;
  }

  /** The events of `requestId`, once at least `count` arrived (fails after `timeoutMs`). */
  forRequest(requestId: string, count = 1, timeoutMs = 20_000): Promise<UsageEventV1[]> {
    return eventually(
      `${count} usage event(s) of request ${requestId}`,
      async () => {
        const found = (await this.read()).filter((event) => event.requestId === requestId);
        return found.length >= count && found;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
