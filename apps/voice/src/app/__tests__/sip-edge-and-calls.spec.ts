// The SIP endpoint against SIPp playing the carrier: OPTIONS, an inbound call with RTP both ways, CANCEL before
// answer, re-INVITE hold and resume, a refused source network, malformed messages, and an outbound call that the
// carrier challenges with 407 first. Every call leaves a closed record in PostgreSQL and events on CALLS.
import {
  NatsClient,
  parseCallEventV1,
  parseUsageEventV1,
  STREAM_CALLS,
  STREAM_USAGE,
  type CallEventV1,
  type UsageEventV1,
} from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { createHash } from 'node:crypto';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from './support/voice-test-environment';

jest.setTimeout(90_000);

interface CallRow {
  id: string;
  direction: string;
  state: string;
  from_number: string;
  to_number: string;
  codec: string | null;
  hangup_cause: string | null;
  hangup_side: string | null;
  answered_at: Date | null;
  rtp_quality: { packetsIn: number; packetsOut: number } | null;
  timeline: Array<{ state: string; detail?: string }>;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

/** Checks a Digest credential against RFC 2617 (qop=auth) independently of our digest code; returns the problems. */
function digestProblems(header: string, expected: { username: string; password: string; realm: string }): string[] {
  const params = new Map<string, string>();
  for (const match of header.matchAll(/(\w+)=(?:"([^"]*)"|([^\s,]+))/g)) params.set(match[1], match[2] ?? match[3]);
  const problems: string[] = [];
  if (params.get('username') !== expected.username) problems.push(`username ${params.get('username')}`);
  if (params.get('realm') !== expected.realm) problems.push(`realm ${params.get('realm')}`);
  if (!params.get('nonce')?.startsWith('n0nce')) problems.push(`nonce ${params.get('nonce')}`);
  if (params.get('qop') !== 'auth' || !/^[0-9a-f]{8}$/.test(params.get('nc') ?? '') || !params.get('cnonce')) {
    problems.push('qop=auth needs nc and cnonce');
  }
  const ha1 = md5(`${expected.username}:${expected.realm}:${expected.password}`);
  const ha2 = md5(`INVITE:${params.get('uri')}`);
  const response = md5(
    `${ha1}:${params.get('nonce')}:${params.get('nc')}:${params.get('cnonce')}:${params.get('qop')}:${ha2}`,
  );
  if (params.get('response') !== response) problems.push(`response ${params.get('response')} (expected ${response})`);
  return problems;
}

describe('voice SIP endpoint (SIPp as the carrier)', () => {
  let env: VoiceTestEnvironment;

  beforeAll(async () => {
    env = await startVoiceTestEnvironment();
  });

  afterAll(async () => {
    await env?.dispose();
  });

  const calls = (to: string) => env.query<CallRow>('SELECT * FROM "voice_calls" WHERE "to_number" = $1', [to]);

  /** Every message stored on a JetStream stream, parsed with its contract. */
  async function storedOn<T>(stream: string, parse: (raw: unknown) => T): Promise<T[]> {
    const jsm = await env.voice.app.get(NatsClient).jetstreamManager();
    const { first_seq, last_seq } = (await jsm.streams.info(stream)).state;
    const out: T[] = [];
    for (let seq = first_seq; seq <= last_seq && last_seq > 0; seq += 1) {
      out.push(parse((await jsm.streams.getMessage(stream, { seq })).json()));
    }
    return out;
  }

  it('answers OPTIONS with 200 and what it allows', async () => {
    const result = await env.sipp('options.xml');
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
  });

  it('takes a carrier call: INVITE+SDP → 200 → ACK → RTP both ways → BYE, and closes the record', async () => {
    env.seedNumber('+15551230001', { mediaApp: 'echo' });
    const result = await env.sipp('carrier-calls-us.xml', { service: '+15551230001' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const [call] = await eventually('the call record closed', async () => {
      const rows = await calls('+15551230001');
      return rows.length === 1 && rows[0].state === 'ended' ? rows : null;
    });
    expect(call).toMatchObject({
      direction: 'inbound',
      from_number: '+15559870000',
      codec: 'PCMU',
      hangup_cause: 'bye',
      hangup_side: 'remote',
    });
    expect(call.answered_at).not.toBeNull();
    expect(call.rtp_quality?.packetsIn).toBeGreaterThan(50);
    expect(call.rtp_quality?.packetsOut).toBeGreaterThan(50);
    const events = await eventually('the call events on CALLS', async () => {
      const all = await storedOn<CallEventV1>(STREAM_CALLS, parseCallEventV1);
      const mine = all.filter((event) => event.callId === call.id);
      return mine.some((event) => event.type === 'ended') ? mine : null;
    });
    expect(events.map((event) => event.type)).toEqual(['ringing', 'answered', 'ended']);
    expect(events[2]).toMatchObject({ direction: 'inbound', hangupCause: 'bye', hangupSide: 'remote' });
    const usage = await eventually('the call usage event on USAGE', async () => {
      const all = await storedOn<UsageEventV1>(STREAM_USAGE, parseUsageEventV1);
      return all.find((event) => event.call?.callId === call.id) ?? null;
    });
    // About 2.5 s answered: one started minute.
    expect(usage).toMatchObject({ source: 'voice', ownerId: env.userId, quantities: { call_minutes: 1 } });
    expect(usage.call?.durationMs).toBeGreaterThan(2000);
  });

  it('ends a ringing call the carrier CANCELs with 487, without answering it', async () => {
    env.seedNumber('+15551230002', { ringSeconds: 10 });
    const result = await env.sipp('cancel-before-answer.xml', { service: '+15551230002' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const [call] = await eventually('the cancelled call record', async () => {
      const rows = await calls('+15551230002');
      return rows.length === 1 && rows[0].state === 'ended' ? rows : null;
    });
    expect(call).toMatchObject({ hangup_cause: 'cancel', hangup_side: 'remote', answered_at: null });
  });

  it('follows a re-INVITE hold (answers recvonly) and resume (sendrecv)', async () => {
    env.seedNumber('+15551230003');
    const result = await env.sipp('hold-and-resume.xml', { service: '+15551230003' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const [call] = await eventually('the held call record', async () => {
      const rows = await calls('+15551230003');
      return rows.length === 1 && rows[0].state === 'ended' ? rows : null;
    });
    expect(call.timeline.map((entry) => entry.state)).toEqual(['ringing', 'answered', 'hold', 'unhold', 'ended']);
  });

  it('answers the numbers API with 503 while no Skyetel credentials are configured, and still takes calls', async () => {
    const response = await fetch(`${env.voice.url}/api/v1/voice/numbers/available?area_code=415`, {
      headers: { authorization: `Bearer ${env.apiKey}` },
    });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { success: boolean; error: { code: string; message: string } };
    expect(body).toMatchObject({ success: false, error: { code: 'SERVICE_UNAVAILABLE' } });
    expect(body.error.message).toContain('SOVREN_SKYETEL_SID');
  });

  it('refuses INVITEs from outside the trusted networks with 403 and keeps no state', async () => {
    const before = await env.query('SELECT count(*)::int AS n FROM "voice_calls"');
    const result = await env.sipp('expect-403.xml', { localIp: '127.0.0.2', service: '+15551230001' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    expect(await env.query('SELECT count(*)::int AS n FROM "voice_calls"')).toEqual(before);
    const metrics = await (await fetch(`${env.voice.url}/metrics`)).text();
    expect(metrics).toMatch(/sovren_voice_sip_refused_total\{reason="untrusted"[^}]*\} [1-9]/);
  });

  it('answers malformed requests with 400 and keeps serving', async () => {
    const result = await env.sipp('malformed.xml');
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const metrics = await (await fetch(`${env.voice.url}/metrics`)).text();
    expect(metrics).toMatch(/sovren_voice_sip_refused_total\{reason="malformed"[^}]*\} [2-9]/);
  });

  it('places an outbound call through the API, answers the 407 challenge, and hangs up with BYE', async () => {
    const applicationId = env.seedNumber('+15559990000');
    const carrier = env.sippBackground('carrier-answers-with-407.xml', { port: env.carrierPort });
    await new Promise((resolve) => setTimeout(resolve, 300)); // SIPp binds its port
    const placed = await fetch(`${env.voice.url}/api/v1/voice/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+15550001111', from: '+15559990000', application_id: applicationId }),
    });
    const placedBody = (await placed.json()) as { data: { id: string } };
    expect(placed.status).toBe(201);
    const id = placedBody.data.id;
    await eventually(
      'the outbound call answered',
      async () =>
        (await env.query<CallRow>('SELECT * FROM "voice_calls" WHERE "id" = $1', [id]))[0]?.state === 'answered',
      { detail: () => carrier.tail() },
    );
    const hangup = await fetch(`${env.voice.url}/api/v1/voice/calls/${id}/hangup`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.apiKey}` },
    });
    expect(hangup.status).toBe(202);
    await carrier.waitForExit();
    expect({ code: carrier.exit?.code, output: carrier.tail(40) }).toMatchObject({ code: 0 });
    const [call] = await env.query<CallRow>('SELECT * FROM "voice_calls" WHERE "id" = $1', [id]);
    expect(call).toMatchObject({ direction: 'outbound', state: 'ended', codec: 'PCMA', hangup_side: 'local' });
    const credential = /proxy-authorization (Digest [^\n]*)/.exec(env.sippLog('carrier-answers-with-407.xml'))?.[1];
    expect(credential).toBeDefined();
    expect(
      digestProblems(credential ?? '', { username: 'sovren-trunk', password: 'trunk-secret', realm: 'carrier.test' }),
    ).toEqual([]);
  });

  it('transfers an answered call with REFER, follows the NOTIFYs and hangs up once the new call is answered', async () => {
    env.seedNumber('+15551230009', { mediaApp: 'echo' });
    const carrier = env.sipp('carrier-transfer.xml', { service: '+15551230009' });
    const [answered] = await eventually('the call answered', async () => {
      const rows = await env.query<{ id: string; state: string }>(
        'SELECT "id", "state" FROM "voice_calls" WHERE "to_number" = $1',
        ['+15551230009'],
      );
      return rows[0]?.state === 'answered' ? rows : null;
    });
    const transfer = (body: unknown) =>
      fetch(`${env.voice.url}/api/v1/voice/calls/${answered.id}/transfer`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await transfer({ to: '5551234' })).status).toBe(400);
    expect((await transfer({ to: '+15557654321' })).status).toBe(202);
    const result = await carrier;
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    expect(env.sippLog('carrier-transfer.xml')).toContain('Refer-To: <sip:+15557654321@');
    const [call] = await eventually('the record closed', async () => {
      const rows = await env.query<CallRow & { timeline: Array<{ state: string; detail?: string }> }>(
        'SELECT * FROM "voice_calls" WHERE "id" = $1',
        [answered.id],
      );
      return rows[0]?.state === 'ended' ? rows : null;
    });
    expect(call).toMatchObject({ hangup_cause: 'transferred', hangup_side: 'local' });
    expect(call.timeline).toEqual(
      expect.arrayContaining([expect.objectContaining({ state: 'transfer', detail: '+15557654321' })]),
    );
  });
});
