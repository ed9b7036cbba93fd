// A voice shutdown (restart, deploy) with a call up: the caller gets a BYE, the record is closed with cause
// service_shutdown and the ended event goes out; no call is left "active".
import { parseCallEventV1, STREAM_CALLS } from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { connect } from 'nats';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from './support/voice-test-environment';

jest.setTimeout(90_000);

describe('voice shutdown with calls in progress', () => {
  let env: VoiceTestEnvironment;

  beforeAll(async () => {
    env = await startVoiceTestEnvironment();
  });

  afterAll(async () => {
    await env?.dispose();
  });

  it('hangs every call up with BYE and closes its record before it stops', async () => {
    env.seedNumber('+15551250001', { mediaApp: 'echo' });
    // The carrier's side waits (up to 15 s) for our BYE and answers it with 200.
    const carrier = env.sipp('carrier-calls-we-hang-up.xml', { service: '+15551250001' });
    const [answered] = await eventually('the call answered', async () => {
      const rows = await env.query<{ id: string; state: string }>(
        'SELECT "id", "state" FROM "voice_calls" WHERE "to_number" = $1',
        [`+15551250001`],
      );
      return rows[0]?.state === 'answered' ? rows : null;
    });
    const stopping = Date.now();
    await env.stopVoice();
    const stoppedInMs = Date.now() - stopping;

    const result = await carrier;
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const [call] = await env.query<{ state: string; hangup_cause: string; hangup_side: string; ended_at: Date }>(
      'SELECT * FROM "voice_calls" WHERE "id" = $1',
      [answered.id],
    );
    expect(call).toMatchObject({ state: 'ended', hangup_cause: 'service_shutdown', hangup_side: 'local' });
    expect(await env.query('SELECT "id" FROM "voice_calls" WHERE "state" <> \'ended\'')).toEqual([]);
    // Shutdown waited for the BYE's transaction and the record, not for a timeout.
    expect(stoppedInMs).toBeLessThan(5_000);
    // The ended event was published before the app let NATS go.
    const nc = await connect({ servers: env.nats.url });
    try {
      const ended = await (
        await nc.jetstreamManager()
      ).streams.getMessage(STREAM_CALLS, { last_by_subj: 'voice.call.ended' });
      expect(parseCallEventV1(ended.json())).toMatchObject({
        callId: answered.id,
        hangupCause: 'service_shutdown',
        hangupSide: 'local',
      });
    } finally {
      await nc.close();
    }
  });
});
