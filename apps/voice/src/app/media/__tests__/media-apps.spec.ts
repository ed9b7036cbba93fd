// The media applications over real SIP and RTP (SIPp as the carrier): a WAV prompt played then hung up, and a
// recorded call — prompt on the agent's channel, the caller's tone on the other — read back through the API.
import { readWav, writeWav } from '@sovren/audio';
import { eventually } from '@sovren/testing';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from '../../__tests__/support/voice-test-environment';

jest.setTimeout(90_000);

/** SIPp's tone (support: 440 Hz) and our prompt (660 Hz), told apart on each channel of the recording. */
const CALLER_HZ = 440;
const PROMPT_HZ = 660;
const PROMPT_SECONDS = 1;

interface CallRow {
  id: string;
  state: string;
  hangup_cause: string | null;
  hangup_side: string | null;
  recording_path: string | null;
  rtp_quality: { packetsIn: number; packetsOut: number } | null;
}

/** Goertzel power of `hz` in samples `at`, `at + step`, … (one channel of interleaved audio). */
function tonePower(samples: Float32Array, hz: number, rate: number, at = 0, step = 1): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = at; i < samples.length; i += step) {
    const s0 = samples[i] + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coefficient * s1 * s2;
}

describe('media applications (prompt, record) on real calls', () => {
  let env: VoiceTestEnvironment;

  beforeAll(async () => {
    env = await startVoiceTestEnvironment();
    const prompt = new Float32Array(8000 * PROMPT_SECONDS);
    for (let i = 0; i < prompt.length; i += 1) prompt[i] = 0.3 * Math.sin((2 * Math.PI * PROMPT_HZ * i) / 8000);
    mkdirSync(join(env.root, 'prompts'), { recursive: true });
    writeFileSync(join(env.root, 'prompts', 'greeting.wav'), writeWav(prompt, 8000));
  });

  afterAll(async () => {
    await env?.dispose();
  });

  const endedCall = (to: string) =>
    eventually(`the call to ${to} ended`, async () => {
      const rows = await env.query<CallRow>('SELECT * FROM "voice_calls" WHERE "to_number" = $1', [to]);
      return rows.length === 1 && rows[0].state === 'ended' ? rows[0] : null;
    });

  it('plays the prompt to the caller, then hangs up with BYE', async () => {
    env.seedNumber('+15551240001', { mediaApp: 'play', promptWav: 'greeting.wav' });
    const result = await env.sipp('carrier-calls-we-hang-up.xml', { service: '+15551240001' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const call = await endedCall('+15551240001');
    expect(call).toMatchObject({ hangup_cause: 'prompt_done', hangup_side: 'local', recording_path: null });
    // 1 s of prompt is 50 packets of 20 ms.
    expect(call.rtp_quality?.packetsOut).toBeGreaterThanOrEqual(48);
    expect(call.rtp_quality?.packetsOut).toBeLessThanOrEqual(60);
  });

  it('refuses a prompt outside $SOVREN_ROOT/prompts: nothing is played and the caller ends the call', async () => {
    writeFileSync(join(env.root, 'outside.wav'), writeWav(new Float32Array(8000).fill(0.25), 8000));
    env.seedNumber('+15551240003', { mediaApp: 'play', promptWav: '../outside.wav' });
    const result = await env.sipp('carrier-calls-us.xml', { service: '+15551240003' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const call = await endedCall('+15551240003');
    // Played, the 1 s file would have ended the call from our side long before the carrier's BYE at 2.5 s.
    expect(call).toMatchObject({ hangup_cause: 'bye', hangup_side: 'remote' });
  });

  it('records the call: the caller on the left channel, the greeting on the right, served to its owner only', async () => {
    env.seedNumber('+15551240002', { mediaApp: 'record', promptWav: 'greeting.wav' });
    const result = await env.sipp('carrier-calls-us.xml', { service: '+15551240002' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const call = await eventually('the recorded call closed with its recording', async () => {
      const row = await endedCall('+15551240002');
      return row.recording_path ? row : null;
    });
    const now = new Date();
    const month = String(now.getUTCMonth() + 1).padStart(2, '0');
    expect(call.recording_path).toBe(
      join(env.root, 'recordings', String(now.getUTCFullYear()), month, `${call.id}.wav`),
    );
    const [metadata] = await env.query<{ channels: number; sample_rate: number; owner_id: string }>(
      'SELECT * FROM "voice_recordings" WHERE "call_id" = $1',
      [call.id],
    );
    expect(metadata).toMatchObject({ channels: 2, sample_rate: 8000, owner_id: env.userId });

    const response = await fetch(`${env.voice.url}/api/v1/voice/calls/${call.id}/recording`, {
      headers: { authorization: `Bearer ${env.apiKey}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/wav');
    const wav = readWav(new Uint8Array(await response.arrayBuffer()));
    expect({ channels: wav.channels, sampleRate: wav.sampleRate }).toEqual({ channels: 2, sampleRate: 8000 });
    // ~2.5 s of call: SIPp streams its tone for 2 s; our greeting is 1 s.
    expect(wav.samples.length / 2 / 8000).toBeGreaterThan(2);
    const left = {
      caller: tonePower(wav.samples, CALLER_HZ, 8000, 0, 2),
      prompt: tonePower(wav.samples, PROMPT_HZ, 8000, 0, 2),
    };
    const right = {
      caller: tonePower(wav.samples, CALLER_HZ, 8000, 1, 2),
      prompt: tonePower(wav.samples, PROMPT_HZ, 8000, 1, 2),
    };
    expect(left.caller).toBeGreaterThan(100 * left.prompt);
    expect(right.prompt).toBeGreaterThan(100 * right.caller);

    const stranger = env.auth.apiKey({ scopes: ['voice:calls'] });
    const foreign = await fetch(`${env.voice.url}/api/v1/voice/calls/${call.id}/recording`, {
      headers: { authorization: `Bearer ${stranger.credential}` },
    });
    expect(foreign.status).toBe(404);
    const malformed = await fetch(`${env.voice.url}/api/v1/voice/calls/not-a-call/recording`, {
      headers: { authorization: `Bearer ${env.apiKey}` },
    });
    expect(malformed.status).toBe(400);
  });
});
