// Test support: the inference app as it runs in production, in this process — real private NATS with
// JetStream, a throwaway PostgreSQL database, a temp SOVREN_ROOT with generated GGUF models — guarded for real:
// its auth guard calls auth.validate, answered by the auth.validate stand-in (@sovren/messaging/testing) for an
// ordinary user's API key and an admin's session, as auth would.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { ensureStreams, NatsClient, STREAM_USAGE, parseUsageEventV1, type UsageEventV1 } from '@sovren/messaging';
import { AuthValidateResponder } from '@sovren/messaging/testing';
import { writeTinyModel, type TinyModelOptions } from '@sovren/engine/testing';
import {
  createThrowawayDatabase,
  eventually,
  NatsTestServer,
  startNestApp,
  type RunningNestApp,
} from '@sovren/testing';

import { InferenceModule } from '../../inference.module';

/** What an ordinary user's API key carries for inference. */
const USER_SCOPES = ['inference:generate'];
/** What an admin's session carries for inference. */
const ADMIN_SCOPES = ['inference:generate', 'inference:admin'];

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
  /** Answers auth.validate on the suite's NATS server. */
  auth: AuthValidateResponder;
  inference: RunningNestApp;
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
  startInference(extraEnv?: Record<string, string>): Promise<RunningNestApp>;
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
  // Our own server: the outage spec needs to stop and restart it.
  const nats = await NatsTestServer.start({ jetstream: true });
  const database = await createThrowawayDatabase({ label: 'inference' });
  const root = mkdtempSync(join(tmpdir(), 'sovren-inference-test-'));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    SOVREN_LOG_LEVEL: 'error',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: nats.url,
    SOVREN_INFERENCE_SEQUENCE_CONTEXT: String(SEQUENCE_CONTEXT),
    SOVREN_INFERENCE_THREADS: '1',
    SOVREN_INFERENCE_MAX_SEQUENCES: '4',
    SOVREN_INFERENCE_MAX_QUEUE: '2',
    SOVREN_INFERENCE_PROMPT_CHUNK: '32',
    SOVREN_INFERENCE_LOAD_AT_START: 'none',
    ...extraEnv,
  };
  await writeTestModels(join(root, 'models', 'llms'));
  const auth = await AuthValidateResponder.start(nats.url);
  const user = auth.apiKey({ scopes: USER_SCOPES });
  const admin = auth.session({ role: 'admin', scopes: ADMIN_SCOPES });
  // The inference app answers on NATS too: the server has its subscriptions before a test relies on them.
  const start = (appEnv: Record<string, string>) =>
    startNestApp(InferenceModule, { env: appEnv, ready: (app) => app.get(NatsClient).rawConnection()?.flush() });
  const extraApps: RunningNestApp[] = [];
  let extraKeys: string[] = [];
  const inference = await start(env);
  const usage = await UsageCollector.start(nats.url);
  return {
    auth,
    inference,
    root,
    apiKey: user.credential,
    apiKeyId: user.id,
    userId: user.userId,
    adminToken: admin.credential,
    usage,
    natsUrl: nats.url,
    nats,
    startInference: async (moreEnv = {}) => {
      // startNestApp writes its env into process.env: settings an earlier extra app added must not carry over.
      for (const key of extraKeys) if (!(key in moreEnv) && !(key in env)) delete process.env[key];
      extraKeys = Object.keys(moreEnv);
      const app = await start({ ...env, ...moreEnv });
      extraApps.push(app);
      return app;
    },
    dispose: async () => {
      await usage.close();
      for (const app of extraApps) await app.close();
      await inference.close();
      await auth.close();
      await nats.dispose();
      rmSync(root, { recursive: true, force: true });
      await database.drop();
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
