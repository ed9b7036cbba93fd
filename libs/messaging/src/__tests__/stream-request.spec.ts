// streamRequest against a real nats-server: a responder that replies, then streams on the named inbox, as the
// inference service does for inference.generate and inference.synthesize.
import { NatsTestServer } from '@sovren/testing';

import { MessagingTimeoutError, NatsClient, parseCallTurnEventV1, streamRequest } from '../index';

interface Request {
  n: number;
  streamSubject: string;
  refuse?: boolean;
  stall?: boolean;
}
type Reply = { accepted: boolean };
type Message = { type: 'chunk'; i: number } | { type: 'final'; count: number };

describe('streamRequest', () => {
  let server: NatsTestServer;
  let client: NatsClient;
  let responder: NatsClient;

  beforeAll(async () => {
    server = await NatsTestServer.start();
    client = new NatsClient({ servers: server.url, name: 'stream-client', inboxPrefix: '_INBOX.client' });
    responder = new NatsClient({ servers: server.url, name: 'stream-responder' });
    await Promise.all([client.connect(), responder.connect()]);
    responder.respond<Request, Reply>('test.stream', (request) => {
      if (request.refuse) return { accepted: false };
      setImmediate(() => {
        for (let i = 0; i < request.n; i++) responder.publish(request.streamSubject, { type: 'chunk', i });
        if (!request.stall) responder.publish(request.streamSubject, { type: 'final', count: request.n });
      });
      return { accepted: true };
    });
    // The server must have the responder's subscription before the first request (else: no responders).
    await responder.rawConnection()?.flush();
  });

  afterAll(async () => {
    await client?.drain();
    await responder?.drain();
    await server?.dispose();
  });

  const open = (request: Omit<Request, 'streamSubject'>, idleTimeoutMs?: number) =>
    streamRequest<Request, Reply, Message>(client, 'test.stream', (streamSubject) => ({ ...request, streamSubject }), {
      parseReply: (raw) => raw as Reply,
      parseMessage: (raw) => raw as Message,
      isFinal: (m) => m.type === 'final',
      isAccepted: (r) => r.accepted,
      idleTimeoutMs,
    });

  it('yields every message in order on an inbox of the client, ending with the final one', async () => {
    const seen: string[] = [];
    const { reply, messages } = await open({ n: 200 });
    expect(reply.accepted).toBe(true);
    for await (const m of messages) seen.push(m.type === 'chunk' ? String(m.i) : `final ${m.count}`);
    expect(seen).toEqual([...Array.from({ length: 200 }, (_, i) => String(i)), 'final 200']);
  });

  it('has no stream for a refused request', async () => {
    const { reply, messages } = await open({ n: 3, refuse: true });
    expect(reply.accepted).toBe(false);
    const seen: Message[] = [];
    for await (const m of messages) seen.push(m);
    expect(seen).toEqual([]);
  });

  it('fails a stream that goes quiet, and close() ends iteration early without error', async () => {
    const stalled = await open({ n: 2, stall: true }, 300);
    const seen: Message[] = [];
    await expect(
      (async () => {
        for await (const m of stalled.messages) seen.push(m);
      })(),
    ).rejects.toBeInstanceOf(MessagingTimeoutError);
    expect(seen).toHaveLength(2);

    const closed = await open({ n: 50 });
    let count = 0;
    for await (const m of closed.messages) {
      count++;
      if (m.type === 'chunk' && m.i === 4) closed.messages.close();
    }
    expect(count).toBe(5);
  });
});

describe('CallTurnEventV1', () => {
  const event = {
    v: 1,
    eventId: 'e1',
    callId: 'c1',
    applicationId: 'a1',
    ownerId: 'o1',
    turn: 2,
    callerText: 'hello',
    agentText: 'Good evening. How can I help?',
    heardText: '',
    interrupted: true,
    latency: { endpointingMs: 610, asrMs: 120, llmFirstTokenMs: 80 },
    occurredAt: '2026-12-03T10:00:00.000Z',
  };

  it('accepts a turn with an empty heard text and partial latency', () => {
    expect(parseCallTurnEventV1(event)).toEqual(event);
  });

  it('names the bad field', () => {
    expect(() => parseCallTurnEventV1({ ...event, interrupted: 'yes' })).toThrow(/interrupted/);
    expect(() => parseCallTurnEventV1({ ...event, latency: { asrMs: 1 } })).toThrow(/endpointingMs/);
    expect(() => parseCallTurnEventV1({ ...event, latency: { ...event.latency, asrMs: -1 } })).toThrow(/asrMs/);
  });
});
