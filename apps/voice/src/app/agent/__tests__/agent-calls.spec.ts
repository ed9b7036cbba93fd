// The agent side of the calls service with the real voice app, SIPp as the carrier and no inference service on
// NATS: an agent call that cannot get its models is hung up (not left silent); and the transcript API serves only
// the caller's own calls, in order.
import { eventually } from '@sovren/testing';
import { randomUUID } from 'node:crypto';

import { CallTranscriptsRepository } from '../call-transcripts.repository';
import { startVoiceTestEnvironment, type VoiceTestEnvironment } from '../../__tests__/support/voice-test-environment';

describe('agent calls', () => {
  let env: VoiceTestEnvironment;

  beforeAll(async () => {
    env = await startVoiceTestEnvironment();
  }, 120_000);

  afterAll(async () => {
    await env?.dispose();
  });

  it('hangs up an agent call it cannot serve (no inference on NATS) with BYE and cause agent_unavailable', async () => {
    env.seedNumber('+15551260001', { mediaApp: 'agent' });
    const result = await env.sipp('carrier-calls-we-hang-up.xml', { service: '+15551260001' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const [call] = await eventually('the call record to close', async () => {
      const rows = await env.query<{ state: string; hangup_cause: string; hangup_side: string }>(
        `SELECT "state", "hangup_cause", "hangup_side" FROM "voice_calls" WHERE "to_number" = $1`,
        ['+15551260001'],
      );
      return rows[0]?.state === 'ended' ? rows : null;
    });
    expect(call).toMatchObject({ hangup_cause: 'agent_unavailable', hangup_side: 'local' });
  });

  it('serves the transcript of a call to its owner only, in order, with the latency of answered turns', async () => {
    const callId = randomUUID();
    const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, s)).toISOString();
    await env.query(
      `INSERT INTO "voice_calls" ("id", "direction", "from_number", "to_number", "owner_id", "sip_call_id", "state",
         "timeline", "started_at") VALUES ($1, 'inbound', '+15550000001', '+15551260002', $2, $3, 'ended', '[]', $4)`,
      [callId, env.userId, `sip-${callId}`, at(0)],
    );
    const rows: Array<[number, number, string, string, string | null, boolean, string | null]> = [
      [1, 0, 'agent', 'Good evening, how can I help?', 'Good evening,', true, null],
      [2, 1, 'caller', 'A table for two, please.', null, false, null],
      [
        3,
        1,
        'agent',
        'Of course. For what time?',
        'Of course. For what time?',
        false,
        '{"endpointingMs":600,"asrMs":90,"totalMs":480}',
      ],
    ];
    for (const [seq, turn, speaker, text, heard, interrupted, latency] of rows) {
      await env.query(
        `INSERT INTO "voice_call_transcripts" ("call_id", "seq", "turn", "speaker", "text", "heard_text",
           "interrupted", "started_at", "ended_at", "latency") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [callId, seq, turn, speaker, text, heard, interrupted, at(seq), at(seq + 1), latency],
      );
    }
    const get = (credential: string, id: string = callId) =>
      fetch(`${env.voice.url}/api/v1/voice/calls/${id}/transcript`, {
        headers: { authorization: `Bearer ${credential}` },
      });

    const response = await get(env.apiKey);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { id: string; entries: Array<Record<string, unknown>> } };
    expect(body.data.id).toBe(callId);
    expect(body.data.entries.map((e) => [e.seq, e.speaker, e.heardText, e.interrupted])).toEqual([
      [1, 'agent', 'Good evening,', true],
      [2, 'caller', null, false],
      [3, 'agent', 'Of course. For what time?', false],
    ]);
    expect(body.data.entries[2].latency).toEqual({ endpointingMs: 600, asrMs: 90, totalMs: 480 });

    // Another user's key, an unknown call, and a key without voice:calls.
    const stranger = env.auth.apiKey({ scopes: ['voice:calls'] });
    expect((await get(stranger.credential)).status).toBe(404);
    expect((await get(env.apiKey, randomUUID())).status).toBe(404);
    const numbersOnly = env.auth.apiKey({ userId: env.userId, scopes: ['voice:numbers'] });
    expect((await get(numbersOnly.credential)).status).toBe(403);
    expect((await get(env.apiKey, 'not-a-uuid')).status).toBe(400);
  });

  it('stores model text PostgreSQL cannot hold (NUL) with U+FFFD in its place', async () => {
    const transcripts = env.voice.app.get(CallTranscriptsRepository);
    const callId = randomUUID();
    const now = new Date();
    await transcripts.add(callId, 1, {
      turn: 1,
      speaker: 'agent',
      text: 'odd\u0000output',
      heardText: 'odd\u0000',
      interrupted: true,
      startedAt: now,
      endedAt: now,
      latency: null,
    });
    const [row] = await transcripts.list(callId);
    expect(row).toMatchObject({ text: 'odd\uFFFDoutput', heardText: 'odd\uFFFD', interrupted: true });
  });
});
