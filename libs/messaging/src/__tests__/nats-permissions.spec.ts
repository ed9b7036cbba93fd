// NATS users and permissions, against a real nats-server started with the configuration tools/nats generates:
// no anonymous access, no service answering or publishing a subject it does not own, and every service able to do
// its real work (stream set-up, requests, replies, JetStream publishes and consumers) as its own user.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AckPolicy, connect, JSONCodec, RetentionPolicy, type NatsConnection, type Status } from 'nats';
import { NatsTestServer } from '@sovren/testing';

import { NatsClient } from '../client/nats.client';
import { ensureConsumer, ensureStreams, SOVREN_STREAMS, STREAM_BILLING_TIER, STREAM_USAGE } from '../jetstream-setup';
import { natsInboxPrefix } from '../messaging.module';
import * as subjects from '../subjects';

jest.setTimeout(60_000);

const REPO_ROOT = resolve(__dirname, '../../../..');
const GENERATOR = join(REPO_ROOT, 'tools/nats/generate-nats-config.mjs');
const TABLE = join(REPO_ROOT, 'tools/nats/nats-permissions.mjs');
const SERVICES = ['auth', 'billing', 'inference', 'voice', 'monitoring'] as const;
/** The NATS users that are not services (the operator's `sovren` CLI). */
const CLIENTS = ['cli'] as const;
const USERS = [...SERVICES, ...CLIENTS] as const;
type Service = (typeof USERS)[number];
const codec = JSONCodec();

interface Permissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

let dir: string;
let server: NatsTestServer;
const credentials = {} as Record<Service, { user: string; pass: string }>;
let permissions: Record<Service, Permissions>;
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sovren-nats-permissions-'));
  const config = join(dir, 'nats-server.conf');
  execFileSync(process.execPath, [GENERATOR, '--config', config, '--credentials-dir', join(dir, 'credentials')]);
  for (const service of USERS) {
    const env = readFileSync(join(dir, 'credentials', `${service}.env`), 'utf8');
    credentials[service] = {
      user: /^SOVREN_NATS_USER=(.+)$/m.exec(env)?.[1] ?? '',
      pass: /^SOVREN_NATS_PASSWORD=(.+)$/m.exec(env)?.[1] ?? '',
    };
  }
  const script = `import(${JSON.stringify(TABLE)}).then((t) => process.stdout.write(JSON.stringify(
    Object.fromEntries(t.NATS_USERS.map((s) => [s, t.userPermissionsOf(s)])))))`;
  permissions = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
  server = await NatsTestServer.start({ configFile: config, jetstream: true });
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw nats.js connection as `service` (or anonymous), recording the permission errors the server reports. */
async function rawAs(service?: Service): Promise<{ nc: NatsConnection; denied: (subject: string) => Promise<Status> }> {
  const nc = await connect({
    servers: server.url,
    ...(service ? { ...credentials[service], inboxPrefix: natsInboxPrefix(service) } : {}),
  });
  opened.push(nc);
  const errors: Status[] = [];
  void (async () => {
    for await (const status of nc.status()) if (status.type === 'error') errors.push(status);
  })();
  // The server answers a PING only after everything sent before it, so once flush() resolves a refusal of those
  // operations has arrived; setImmediate lets the status iterator hand it over.
  const denied = async (subject: string): Promise<Status> => {
    await nc.flush();
    await new Promise((wake) => setImmediate(wake));
    const found = errors.find((status) => status.permissionContext?.subject === subject);
    if (!found) throw new Error(`the server did not refuse ${subject}`);
    return found;
  };
  return { nc, denied };
}

/** Our NatsClient as `service`, the way MessagingModule configures it. */
async function clientAs(service: Service): Promise<NatsClient> {
  const client = new NatsClient({
    servers: server.url,
    name: `sovren-${service}`,
    ...credentials[service],
    inboxPrefix: natsInboxPrefix(service),
  });
  opened.push({ close: () => client.drain() });
  await client.connect();
  expect(client.check()).toEqual({ name: 'nats', ok: true });
  return client;
}

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i += 1) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
const mayPublish = (service: Service, subject: string) =>
  permissions[service].publish.allow.some((allowed) => matches(allowed, subject));
const maySubscribe = (service: Service, subject: string) =>
  permissions[service].subscribe.allow.some((allowed) => matches(allowed, subject));

describe('the generated NATS configuration', () => {
  it('refuses a connection without credentials, so nobody anonymous can answer auth.validate or publish usage', async () => {
    await expect(connect({ servers: server.url })).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
    await expect(connect({ servers: server.url, user: 'auth', pass: 'wrong' })).rejects.toMatchObject({
      code: 'AUTHORIZATION_VIOLATION',
    });
  });

  it('lets only auth answer auth.validate: billing may not subscribe to it and a request finds no responder', async () => {
    const billing = await rawAs('billing');
    const refused = new Promise<Error | null>((done) =>
      billing.nc.subscribe(subjects.AUTH_VALIDATE, { callback: (error) => done(error) }),
    );
    expect(await billing.denied(subjects.AUTH_VALIDATE)).toMatchObject({ data: 'PERMISSIONS_VIOLATION' });
    expect(await refused).toMatchObject({ code: 'PERMISSIONS_VIOLATION' });
    const inference = await clientAs('inference');
    await expect(inference.request(subjects.AUTH_VALIDATE, {}, { timeoutMs: 5_000 })).rejects.toThrow(/no responder/i);
  });

  it('keeps a service from publishing what it does not own (inference: tier changes; billing: usage)', async () => {
    const billingClient = await clientAs('billing');
    const tierStream = SOVREN_STREAMS.filter((stream) => stream.name === STREAM_BILLING_TIER);
    await ensureStreams(await billingClient.jetstreamManager(), tierStream);

    const inference = await rawAs('inference');
    inference.nc.publish(subjects.BILLING_TIER_CHANGED, codec.encode('forged by inference'));
    expect(await inference.denied(subjects.BILLING_TIER_CHANGED)).toMatchObject({ data: 'PERMISSIONS_VIOLATION' });
    const billing = await rawAs('billing');
    billing.nc.publish(subjects.usageSubject('inference'), codec.encode({}));
    expect(await billing.denied(subjects.usageSubject('inference'))).toMatchObject({ data: 'PERMISSIONS_VIOLATION' });

    // The server refused the forgery: billing's real tier change is the first message of the tier stream.
    const ack = await billingClient.publishToStream(subjects.BILLING_TIER_CHANGED, 'from billing');
    expect({ stream: ack.stream, seq: ack.seq }).toEqual({ stream: STREAM_BILLING_TIER, seq: 1 });
    // Auth, the stream's consumer, may purge it (the next test starts from an empty stream).
    const auth = await clientAs('auth');
    await (await auth.jetstreamManager()).streams.purge(STREAM_BILLING_TIER);
  });

  it("keeps replies private: a service cannot subscribe to another service's inbox or to all inboxes", async () => {
    const voice = await rawAs('voice');
    voice.nc.subscribe(`${natsInboxPrefix('auth')}.>`);
    expect(await voice.denied(`${natsInboxPrefix('auth')}.>`)).toMatchObject({ data: 'PERMISSIONS_VIOLATION' });
    voice.nc.subscribe('_INBOX.>');
    expect(await voice.denied('_INBOX.>')).toMatchObject({ data: 'PERMISSIONS_VIOLATION' });
  });

  it('covers every subject of subjects.ts that has a publisher, and only the owners publish the owned ones', () => {
    const everyone = (subject: string) => USERS.filter((service) => mayPublish(service, subject));
    expect(everyone(subjects.BILLING_TIER_CHANGED)).toEqual(['billing']);
    expect(SERVICES.filter((service) => maySubscribe(service, subjects.BILLING_STANDINGS_QUERY))).toEqual(['billing']);
    expect(everyone(subjects.usageSubject('inference'))).toEqual(['inference']);
    expect(everyone(subjects.usageSubject('voice'))).toEqual(['voice']);
    expect(everyone(subjects.AUTH_REVOKED)).toEqual(['auth']);
    expect(everyone(subjects.MONITORING_ALERT)).toEqual(['monitoring']);
    expect(SERVICES.filter((service) => maySubscribe(service, subjects.AUTH_VALIDATE))).toEqual(['auth']);
    expect(SERVICES.filter((service) => maySubscribe(service, subjects.INFERENCE_GENERATE))).toEqual(['inference']);
    for (const service of SERVICES) {
      expect(everyone(subjects.heartbeatSubject(service))).toEqual([service]);
      expect(SERVICES.filter((s) => maySubscribe(s, subjects.pingSubject(service)))).toEqual([service]);
    }
    // A subject added to subjects.ts without a line in tools/nats/nats-permissions.mjs fails here.
    const constants = Object.entries(subjects).filter(
      ([name, value]) => typeof value === 'string' && !name.endsWith('_ALL'),
    ) as Array<[string, string]>;
    const unpublishable = constants.filter(([, subject]) => everyone(subject).length === 0).map(([name]) => name);
    expect(unpublishable).toEqual([]);
  });

  it("lets only the operator's cli user send the admin subjects, and the cli user nothing but its requests", () => {
    const adminSubjects = [
      subjects.AUTH_ADMIN_USERS_CREATE,
      subjects.AUTH_ADMIN_USERS_LIST,
      subjects.AUTH_ADMIN_USERS_PROMOTE,
      subjects.AUTH_ADMIN_KEYS_CREATE,
      subjects.AUTH_ADMIN_KEYS_LIST,
      subjects.AUTH_ADMIN_KEYS_REVOKE,
      subjects.INFERENCE_MODELS_LOAD,
      subjects.INFERENCE_MODELS_UNLOAD,
      subjects.MONITORING_STATUS,
    ];
    for (const subject of adminSubjects) expect(USERS.filter((user) => mayPublish(user, subject))).toEqual(['cli']);
    for (const subject of [subjects.AUTH_ADMIN_KEYS_CREATE, subjects.AUTH_ADMIN_USERS_PROMOTE]) {
      expect(USERS.filter((user) => maySubscribe(user, subject))).toEqual(['auth']);
    }
    expect(USERS.filter((user) => maySubscribe(user, subjects.MONITORING_STATUS))).toEqual(['monitoring']);
    expect(USERS.filter((user) => maySubscribe(user, subjects.INFERENCE_MODELS_LOAD))).toEqual(['inference']);
    for (const subject of [
      subjects.AUTH_VALIDATE,
      subjects.AUTH_REVOKED,
      subjects.INFERENCE_GENERATE,
      subjects.usageSubject('inference'),
      subjects.heartbeatSubject('auth'),
      '$JS.API.INFO',
    ]) {
      expect(mayPublish('cli', subject)).toBe(false);
    }
    expect(permissions.cli.subscribe.allow).toEqual(['_INBOX.cli.>']);
  });
});

describe('the cli user', () => {
  it('asks auth an admin question and gets the answer in its own inbox; voice may not ask it', async () => {
    const [auth, voice, cli] = await Promise.all([clientAs('auth'), clientAs('voice'), clientAs('cli')]);
    auth.respond(subjects.AUTH_ADMIN_ALL, (_request, context) => ({ answered: context.subject }));
    await auth.rawConnection()?.flush();
    await expect(cli.request(subjects.AUTH_ADMIN_USERS_LIST, { v: 1 })).resolves.toEqual({
      answered: subjects.AUTH_ADMIN_USERS_LIST,
    });
    const raw = await rawAs('voice');
    raw.nc.publish(subjects.AUTH_ADMIN_KEYS_CREATE, codec.encode({ v: 1 }));
    expect(await raw.denied(subjects.AUTH_ADMIN_KEYS_CREATE)).toMatchObject({ data: 'PERMISSIONS_VIOLATION' });
    await expect(voice.request(subjects.AUTH_ADMIN_KEYS_CREATE, { v: 1 }, { timeoutMs: 2_000 })).rejects.toThrow();
  });
});

describe('each service as its own NATS user', () => {
  it("lets only a stream's consumer recreate it when its retention changes (billing for USAGE)", async () => {
    const [inference, billing] = await Promise.all([clientAs('inference'), clientAs('billing')]);
    const usage = SOVREN_STREAMS.find((stream) => stream.name === STREAM_USAGE);
    if (!usage) throw new Error('no USAGE stream in SOVREN_STREAMS');
    // USAGE as an older release created it: limits retention, which a work queue cannot be changed to in place.
    await (await inference.jetstreamManager()).streams.add({ ...usage, retention: RetentionPolicy.Limits });

    await expect(ensureStreams(await inference.jetstreamManager(), [usage])).rejects.toThrow(/Permissions Violation/);
    const [recreated] = await ensureStreams(await billing.jetstreamManager(), [usage]);
    expect(recreated.config).toMatchObject({ retention: usage.retention, subjects: usage.subjects });
  });

  it('sets up the streams, answers and sends its requests, and publishes and consumes its JetStream subjects', async () => {
    const [auth, billing, inference, voice, monitoring] = await Promise.all(SERVICES.map((s) => clientAs(s)));

    // Every service ensures the streams at start-up (MessagingModule).
    for (const client of [auth, billing, inference, voice, monitoring]) {
      const streams = await ensureStreams(await client.jetstreamManager());
      expect(streams.map((stream) => stream.config.name)).toContain(STREAM_USAGE);
    }

    // Heartbeats reach monitoring; each service answers its ping subject and validates credentials with auth.
    const beats: string[] = [];
    monitoring.subscribe(subjects.HEARTBEAT_ALL, (_beat, context) => void beats.push(context.subject));
    auth.respond(subjects.AUTH_VALIDATE, () => ({ ok: true }));
    const revoked: unknown[] = [];
    billing.subscribe(subjects.AUTH_REVOKED, (event) => void revoked.push(event));
    await Promise.all([monitoring, auth, billing].map((c) => c.rawConnection()?.flush()));
    for (const [service, client] of [auth, billing, inference, voice, monitoring].map(
      (c, i) => [SERVICES[i], c] as const,
    )) {
      client.publish(subjects.heartbeatSubject(service), { v: 1 });
      await expect(client.request(subjects.AUTH_VALIDATE, { token: 'x' })).resolves.toEqual({ ok: true });
    }
    auth.publish(subjects.AUTH_REVOKED, { v: 1, id: 'k1' });
    monitoring.publish(subjects.MONITORING_ALERT, { v: 1 });

    // Voice asks inference for models; inference streams a chunk to the caller's inbox; voice cancels.
    inference.respond(subjects.INFERENCE_MODELS, () => ({ models: ['tiny'] }));
    const cancelled: unknown[] = [];
    inference.subscribe(subjects.inferenceCancelSubject('r1'), (message) => void cancelled.push(message));
    await inference.rawConnection()?.flush();
    await expect(voice.request(subjects.INFERENCE_MODELS, {})).resolves.toEqual({ models: ['tiny'] });
    const streamSubject = `${natsInboxPrefix('voice')}.stream-r1`;
    const chunks: unknown[] = [];
    voice.subscribe(streamSubject, (chunk) => void chunks.push(chunk));
    await voice.rawConnection()?.flush();
    inference.publish(streamSubject, { text: 'hello' });
    voice.publish(subjects.inferenceCancelSubject('r1'), { v: 1 });

    // Usage from inference and voice, calls from voice, tier changes from billing: acknowledged by their streams.
    await expect(
      inference.publishToStream(subjects.usageSubject('inference'), { n: 1 }, { msgID: 'u1' }),
    ).resolves.toMatchObject({ stream: STREAM_USAGE });
    await expect(
      voice.publishToStream(subjects.usageSubject('voice'), { n: 2 }, { msgID: 'u2' }),
    ).resolves.toMatchObject({ stream: STREAM_USAGE });
    await expect(voice.publishToStream(subjects.callsSubject('started'), { call: 1 })).resolves.toMatchObject({
      stream: 'CALLS',
    });
    // Tier changes go from billing to auth through their stream.
    await expect(billing.publishToStream(subjects.BILLING_TIER_CHANGED, { tier: 'free' })).resolves.toMatchObject({
      stream: STREAM_BILLING_TIER,
    });
    // Billing consumes USAGE and auth BILLING_TIER through durable consumers, acknowledging each message.
    const consumers: Array<[NatsClient, string, string, unknown[]]> = [
      [billing, STREAM_USAGE, 'billing-usage', [{ n: 1 }, { n: 2 }]],
      [auth, STREAM_BILLING_TIER, 'auth-billing-tier', [{ tier: 'free' }]],
    ];
    for (const [client, stream, durable, expected] of consumers) {
      await ensureConsumer(await client.jetstreamManager(), stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
      });
      const consumer = await client.jetstream().consumers.get(stream, durable);
      const got: unknown[] = [];
      const batch = await consumer.fetch({ max_messages: expected.length, expires: 5_000 });
      for await (const message of batch) {
        got.push(codec.decode(message.data));
        await message.ackAck();
      }
      expect(got).toEqual(expected);
    }

    while (beats.length < SERVICES.length || revoked.length === 0 || chunks.length === 0 || cancelled.length === 0) {
      await new Promise((wake) => setTimeout(wake, 10));
    }
    expect(beats.sort()).toEqual(SERVICES.map((s) => subjects.heartbeatSubject(s)).sort());
    expect(revoked).toEqual([{ v: 1, id: 'k1' }]);
    expect(chunks).toEqual([{ text: 'hello' }]);
    expect(cancelled).toEqual([{ v: 1 }]);
  });
});
