// Specification of usage that survives a crash (issue 13, item 10): the inference service runs as its own process
// while JetStream cannot take usage (the USAGE stream is gone, as when the stream is unavailable), serves
// requests under load, and is killed with SIGKILL; started again, it publishes what its outbox kept, and every
// request a client got an answer for is on the USAGE stream exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { parseUsageEventV1, STREAM_USAGE, type UsageEventV1 } from '@sovren/messaging';
import { AuthValidateResponder } from '@sovren/messaging/testing';
import { createThrowawayDatabase, eventually, freePort, NatsTestServer, type ThrowawayPostgres } from '@sovren/testing';

import { InferenceProcess } from './support/inference-process';
import { CHAT_MODEL, SEQUENCE_CONTEXT, writeTestModels } from './support/inference-test-env';

jest.setTimeout(600_000);

let nats: NatsTestServer;
let database: ThrowawayPostgres;
let auth: AuthValidateResponder;
let root: string;
let serviceEnv: Record<string, string>;
let observer: NatsConnection;
const processes: InferenceProcess[] = [];

/** Every usage event on the USAGE stream, read message by message (no consumer: billing's stays undisturbed). */
async function usageOnStream(): Promise<UsageEventV1[]> {
  const jsm = await observer.jetstreamManager();
  const { state } = await jsm.streams.info(STREAM_USAGE);
  const events: UsageEventV1[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(STREAM_USAGE, { seq }).catch(() => undefined);
    if (message) events.push(parseUsageEventV1(message.json()));
  }
  return events;
}

beforeAll(async () => {
  nats = await NatsTestServer.start({ jetstream: true });
  database = await createThrowawayDatabase({ label: 'inference_crash' });
  root = mkdtempSync(join(tmpdir(), 'sovren-inference-crash-'));
  await writeTestModels(join(root, 'models', 'llms'));
  auth = await AuthValidateResponder.start(nats.url);
  observer = await connect({ servers: nats.url });
  serviceEnv = {
    NODE_ENV: 'test',
    SOVREN_LOG_LEVEL: 'info',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: nats.url,
    SOVREN_INFERENCE_SEQUENCE_CONTEXT: String(SEQUENCE_CONTEXT),
    SOVREN_INFERENCE_THREADS: '1',
    SOVREN_INFERENCE_MAX_SEQUENCES: '4',
    SOVREN_INFERENCE_LOAD_AT_START: CHAT_MODEL,
  };
});

afterAll(async () => {
  for (const child of processes) await child.kill('SIGKILL');
  await observer?.close();
  await auth?.close();
  await nats?.dispose();
  await database?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

it('bills every request answered before a SIGKILL exactly once, from the outbox, after the restart', async () => {
  const key = auth.apiKey({ scopes: ['inference:generate'] });
  const port = await freePort();
  const first = await InferenceProcess.start(serviceEnv, port);
  processes.push(first);

  // Once the service has set the USAGE stream up, it goes away: every publish fails and the events wait.
  const jsm = await observer.jetstreamManager();
  await eventually('the USAGE stream', () => jsm.streams.info(STREAM_USAGE).then(() => true), { timeoutMs: 60_000 });
  await jsm.streams.delete(STREAM_USAGE);

  // Four clients send requests back to back; the process is killed once 12 were answered, with others running.
  const answered: string[] = [];
  let sent = 0;
  let killed = false;
  const client = async (n: number): Promise<void> => {
    for (let i = 0; !killed; i++) {
      const requestId = `crash-${n}-${i}`;
      sent++;
      const response = await fetch(`${first.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key.credential}`,
          'content-type': 'application/json',
          'x-request-id': requestId,
        },
        body: JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: `Hello ${n}` }], max_tokens: 6 }),
      }).catch(() => undefined);
      if (response === undefined) return; // the process died under this request
      const body = await response.text().catch(() => undefined);
      if (response.status === 200 && body !== undefined) answered.push(requestId);
    }
  };
  const clients = [0, 1, 2, 3].map((n) => client(n));
  await eventually('12 answered requests', () => answered.length >= 12, {
    timeoutMs: 120_000,
    detail: () => first.tail(),
  });
  killed = true;
  await first.kill('SIGKILL');
  await Promise.all(clients);
  expect(answered.length).toBeGreaterThanOrEqual(12);

  // Started again (it sets the USAGE stream up again), it publishes what the killed process kept.
  const second = await InferenceProcess.start(serviceEnv, port);
  processes.push(second);
  const events = await eventually(
    `usage events of all ${answered.length} answered requests`,
    async () => {
      const found = await usageOnStream();
      return answered.every((id) => found.some((event) => event.requestId === id)) && found;
    },
    { timeoutMs: 60_000, intervalMs: 500, detail: () => second.tail() },
  );
  // Nothing arrives twice: each answered request once, and no event id repeated.
  const ids = events.map((event) => event.eventId);
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of answered) expect(events.filter((event) => event.requestId === id)).toHaveLength(1);
  expect(events.length).toBeLessThanOrEqual(sent);
  await second.kill('SIGTERM');
});
