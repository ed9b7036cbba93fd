// Specification of NatsClient against a real NATS server (SOVREN_TEST_NATS_URL, default 127.0.0.1:4222).

import { randomUUID } from 'node:crypto';
import {
  ContractError,
  MessagingTimeoutError,
  MessagingUnavailableError,
  NatsClient,
  NoRespondersError,
  parseUsageEventV1,
  RemoteError,
} from '../index';
import { eventually, freePort, NatsTestServer, TEST_NATS_URL } from '@sovren/testing';

function uniqueSubject(name: string): string {
  return `sovren-test.${randomUUID().replace(/-/g, '')}.${name}`;
}

describe('NatsClient on a live server', () => {
  let client: NatsClient;

  beforeAll(async () => {
    client = new NatsClient({ servers: TEST_NATS_URL, name: 'sovren-messaging-test' });
    await client.connect();
    expect(client.status()).toBe('connected');
  });

  afterAll(async () => {
    await client.drain();
  });

  it('reports itself connected and healthy', () => {
    expect(client.isConnected()).toBe(true);
    expect(client.check()).toEqual({ name: 'nats', ok: true });
  });

  it('answers a request with the handler result', async () => {
    const subject = uniqueSubject('echo');
    const responder = client.respond<{ text: string }, { echoed: string; subject: string }>(
      subject,
      (payload, context) => ({
        echoed: payload.text.toUpperCase(),
        subject: context.subject,
      }),
    );
    try {
      await expect(client.request(subject, { text: 'hello' })).resolves.toEqual({ echoed: 'HELLO', subject });
    } finally {
      responder.unsubscribe();
    }
  });

  it('throws MessagingTimeoutError naming the subject when nobody replies in time', async () => {
    const subject = uniqueSubject('silent');
    // A plain subscriber makes NATS see a responder, but it never replies.
    const listener = client.subscribe(subject, () => undefined);
    try {
      const failure = client.request(subject, {}, { timeoutMs: 200 });
      await expect(failure).rejects.toBeInstanceOf(MessagingTimeoutError);
      await expect(failure).rejects.toThrow(subject);
    } finally {
      listener.unsubscribe();
    }
  });

  it('throws NoRespondersError naming the subject when nothing listens', async () => {
    const subject = uniqueSubject('nobody');
    const failure = client.request(subject, {}, { timeoutMs: 2_000 });
    await expect(failure).rejects.toBeInstanceOf(NoRespondersError);
    await expect(failure).rejects.toThrow(`"${subject}"`);
  });

  it('matches each of many concurrent requests to its own reply, whatever order the replies come in', async () => {
    const subject = uniqueSubject('shuffle');
    const responder = client.respond<{ n: number }, { n: number }>(subject, async (payload) => {
      await new Promise((resolve) => setTimeout(resolve, (payload.n * 7) % 23)); // replies overtake each other
      return { n: payload.n };
    });
    try {
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, n) => client.request<{ n: number }, { n: number }>(subject, { n })),
      );
      expect(replies.map((reply) => reply.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    } finally {
      responder.unsubscribe();
    }
  });

  it('drops a reply that arrives after its request timed out and keeps serving later requests', async () => {
    const subject = uniqueSubject('late');
    let delayMs = 300;
    const responder = client.respond<object, { delayMs: number }>(subject, async () => {
      const mine = delayMs;
      await new Promise((resolve) => setTimeout(resolve, mine));
      return { delayMs: mine };
    });
    try {
      await expect(client.request(subject, {}, { timeoutMs: 100 })).rejects.toBeInstanceOf(MessagingTimeoutError);
      delayMs = 0;
      await new Promise((resolve) => setTimeout(resolve, 300)); // the late reply arrives meanwhile
      await expect(client.request(subject, {})).resolves.toEqual({ delayMs: 0 });
    } finally {
      responder.unsubscribe();
    }
  });

  it('turns a handler error into a RemoteError and keeps answering afterwards', async () => {
    const subject = uniqueSubject('fragile');
    const responder = client.respond<{ fail: boolean }, { ok: true }>(subject, (payload) => {
      if (payload.fail) throw Object.assign(new Error('the ledger is locked'), { code: 'LEDGER_LOCKED' });
      return { ok: true };
    });
    try {
      const failure = client.request(subject, { fail: true });
      await expect(failure).rejects.toBeInstanceOf(RemoteError);
      await expect(failure).rejects.toMatchObject({
        remoteCode: 'LEDGER_LOCKED',
        remoteMessage: 'the ledger is locked',
      });
      await expect(client.request(subject, { fail: false })).resolves.toEqual({ ok: true });
    } finally {
      responder.unsubscribe();
    }
  });

  it('does not mistake a successful reply that has an "error" field for an error reply', async () => {
    const subject = uniqueSubject('report');
    const body = { error: { code: 'E1', message: 'recorded, not raised' } };
    const responder = client.respond(subject, () => body);
    try {
      await expect(client.request(subject, {})).resolves.toEqual(body);
    } finally {
      responder.unsubscribe();
    }
  });

  it('answers INVALID_PAYLOAD naming the field when the request fails its contract', async () => {
    const subject = uniqueSubject('usage');
    const responder = client.respond(subject, () => ({ accepted: true }), { parse: parseUsageEventV1 });
    try {
      const failure = client.request(subject, { v: 1, eventId: 'e' });
      await expect(failure).rejects.toMatchObject({ remoteCode: 'INVALID_PAYLOAD' });
      await expect(failure).rejects.toThrow(/requestId/);
    } finally {
      responder.unsubscribe();
    }
  });

  it('validates the reply with the parse option', async () => {
    const subject = uniqueSubject('bad-reply');
    const responder = client.respond(subject, () => ({ v: 1 }));
    try {
      await expect(client.request(subject, {}, { parse: parseUsageEventV1 })).rejects.toBeInstanceOf(ContractError);
    } finally {
      responder.unsubscribe();
    }
  });

  it('delivers published messages to subscribers, including a queue group member', async () => {
    const subject = uniqueSubject('event');
    const received = new Promise<unknown>((resolve) => {
      const subscription = client.subscribe(
        subject,
        (payload) => {
          subscription.unsubscribe();
          resolve(payload);
        },
        { queue: 'workers' },
      );
    });
    // Make sure the server has the subscription before publishing.
    await client.rawConnection()?.flush();
    client.publish(subject, { n: 1 });
    await expect(received).resolves.toEqual({ n: 1 });
  });
});

describe('NatsClient lifecycle', () => {
  it('drains idempotently and refuses work afterwards', async () => {
    const client = new NatsClient({ servers: TEST_NATS_URL, name: 'sovren-messaging-drain-test' });
    await client.connect();
    const first = client.drain();
    expect(client.drain()).toBe(first);
    await first;
    expect(client.status()).toBe('closed');
    expect(() => client.publish('sovren-test.after-drain', {})).toThrow(MessagingUnavailableError);
    await expect(client.request('sovren-test.after-drain', {})).rejects.toThrow(/drained/);
  });

  it('fails a request still waiting for its reply when the client drains, instead of leaving it hanging', async () => {
    const client = new NatsClient({ servers: TEST_NATS_URL, name: 'sovren-messaging-drain-pending-test' });
    await client.connect();
    const subject = uniqueSubject('never');
    client.subscribe(subject, () => undefined); // a responder as far as NATS knows, but it never replies
    const pending = client.request(subject, {}, { timeoutMs: 60_000 });
    const outcome = pending.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.drain();
    const error = await outcome;
    expect(error).toBeInstanceOf(MessagingUnavailableError);
    expect(String(error)).toContain(subject);
  });

  it('starts without a reachable server, reports not ready, then connects and serves when the server appears', async () => {
    const port = await freePort();
    const client = new NatsClient({
      servers: `nats://127.0.0.1:${port}`,
      name: 'sovren-outage-test',
      retryDelayMs: 100,
    });
    let server: NatsTestServer | undefined;
    try {
      await client.connect();
      expect(client.status()).toBe('reconnecting');
      expect(client.check().ok).toBe(false);
      expect(client.check().error).toMatch(/NATS reconnecting/);
      await expect(client.request('sovren-test.anything', {})).rejects.toBeInstanceOf(MessagingUnavailableError);

      // Registered while disconnected: must be attached once the connection exists.
      client.respond<{ x: number }, { y: number }>('sovren-test.double', (payload) => ({ y: payload.x * 2 }));

      server = await NatsTestServer.start({ port });
      await client.whenConnected();
      expect(client.isConnected()).toBe(true);
      await expect(client.request('sovren-test.double', { x: 21 })).resolves.toEqual({ y: 42 });

      // Losing the server flips the status so readiness can go 503; it must come back on its own.
      await server.stop();
      await eventually('the client to notice the server is gone', () => !client.isConnected(), {
        timeoutMs: 5_000,
        intervalMs: 25,
      });
      expect(client.status()).toBe('reconnecting');
      await server.restart();
      await client.whenConnected();
      await expect(client.request('sovren-test.double', { x: 2 })).resolves.toEqual({ y: 4 });
    } finally {
      await client.drain();
      if (server) await server.dispose();
    }
  });
});
