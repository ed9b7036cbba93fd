// Acceptance (issue 19): a real caller (baresip) rings a number whose application is a voice agent, with the
// built voice and inference services and tiny random-weight models (LLM, Whisper, TTS) — the words are noise, the
// pipeline is real. The caller plays espeak-ng speech with pauses and records what it hears: the greeting
// arrives; talking over it stops the agent's audio and cuts the history at what was heard; every caller turn yields
// a transcript, an LLM reply and agent audio back; hanging up ends the call with one record and usage once.
import { readWav, writeWav } from '@sovren/audio';
import { baresipCall, ensureBaresip, eventually } from '@sovren/testing';
import {
  AGENT_TEST_RATE as RATE,
  callerScript,
  seedAgentNumber,
  writeAgentTestModels,
} from '@sovren/testing/voice-agent';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { Client } from 'pg';

import { Platform } from './support/platform';

const NUMBER = '+15557780001';
const OWNER = 'agent-e2e-owner';
// One long first sentence: it is synthesised as one piece, so the agent is surely talking when the caller starts.
const GREETING =
  'Good evening and thank you very much for calling the sovereign test line where every single word you hear ' +
  'is made on this very machine without any cloud at all. How can I help you today?';
const BARGE_IN_MS = 200;
/** Caller script: [start s, text]; silence elsewhere. */
const SCRIPT: Array<[number, string]> = [
  [2.5, 'Hello there, I would like to book a table for two people tonight, please.'],
  [14.5, 'Thank you very much, that is all I needed.'],
];
/** Silence after the agent's last word before it asks, then says goodbye and hangs up. */
const SILENCE_PROMPT_S = 6;
/** Longer than the script: the agent ends the call after the caller falls silent. */
const CALL_SECONDS = 48;

/** RMS of 10 ms windows (int16 scale). */
function windowsRms(samples: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 80 <= samples.length; i += 80) {
    let sum = 0;
    for (let j = i; j < i + 80; j++) sum += (samples[j] * 32768) ** 2;
    out.push(Math.sqrt(sum / 80));
  }
  return out;
}

/** First 10 ms window at or after `fromMs` whose RMS is above `threshold` (ms), or null. */
function firstLoud(rms: number[], fromMs: number, threshold: number): number | null {
  for (let w = Math.floor(fromMs / 10); w < rms.length; w++) if (rms[w] > threshold) return w * 10;
  return null;
}

/** First time at or after `fromMs` from which the audio stays below `threshold` for `quietMs` (ms), or null. */
function firstQuiet(rms: number[], fromMs: number, threshold: number, quietMs: number): number | null {
  let run = 0;
  for (let w = Math.floor(fromMs / 10); w < rms.length; w++) {
    run = rms[w] < threshold ? run + 1 : 0;
    if (run * 10 >= quietMs) return (w - run + 1) * 10;
  }
  return null;
}

/** One character per 100 ms: '#' loud, '+' some, '.' quiet. */
function profile(rms: number[]): string {
  let out = '';
  for (let w = 0; w + 10 <= rms.length; w += 10) {
    const peak = Math.max(...rms.slice(w, w + 10));
    out += peak > 300 ? '#' : peak > 100 ? '+' : '.';
  }
  return out;
}

describe('voice agent: a real caller talks with the agent', () => {
  let platform: Platform;
  let nats: NatsConnection;
  const turns: Array<Record<string, unknown>> = [];
  const usage: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    ensureBaresip();
    platform = await Platform.start({
      env: {
        SOVREN_VOICE_TRUSTED_SIP_NETWORKS: '127.0.0.1/32',
        SOVREN_VOICE_EXTERNAL_ADDRESS: '127.0.0.1',
        SOVREN_VOICE_AGENT_MAX_REPLY_TOKENS: '20',
        SOVREN_VOICE_AGENT_SILENCE_PROMPT_S: String(SILENCE_PROMPT_S),
        SOVREN_VOICE_AGENT_BARGE_IN_MS: String(BARGE_IN_MS),
        SOVREN_INFERENCE_LOAD_ON_DEMAND: 'true',
      },
      prepareRoot: writeAgentTestModels,
    });
    nats = await connect({ servers: platform.nats.url });
    const codec = JSONCodec<Record<string, unknown>>();
    const collect = (subject: string, into: Array<Record<string, unknown>>) => {
      const sub = nats.subscribe(subject);
      void (async () => {
        for await (const m of sub) into.push(codec.decode(m.data));
      })();
    };
    collect('voice.call.turn', turns);
    collect('usage.voice', usage);
    seedAgentNumber(platform.root, {
      number: NUMBER,
      ownerId: OWNER,
      greeting: GREETING,
      systemPrompt: 'You are the reservations desk of a small restaurant. Be brief.',
      // No actions: the random model's replies stay within the spoken budget (tool calls get room of their own).
      agentActions: '',
    });
  }, 180_000);

  afterAll(async () => {
    await nats?.close();
    await platform?.stop();
  });

  it('greets, stops when talked over, answers each turn, hangs up on silence: one record, usage once', async () => {
    const dir = join(platform.root, 'caller');
    mkdirSync(dir, { recursive: true });
    const script = await callerScript(dir, SCRIPT, CALL_SECONDS);
    writeFileSync(join(dir, 'caller.wav'), writeWav(script, RATE));

    const call = await baresipCall({
      dir,
      wavPath: join(dir, 'caller.wav'),
      uri: `sip:${NUMBER}@127.0.0.1:${platform.env['SOVREN_VOICE_SIP_PORT']}`,
      seconds: CALL_SECONDS,
    });
    const heard = windowsRms(readWav(readFileSync(call.heardWav)).samples);
    const sent = windowsRms(call.sentWav ? readWav(readFileSync(call.sentWav)).samples : script);
    console.log(`heard (100 ms): ${profile(heard)}\nsent  (100 ms): ${profile(sent)}`);

    // The greeting arrives before the caller says anything.
    const greetingAt = firstLoud(heard, 0, 300);
    expect(greetingAt).not.toBeNull();
    expect(greetingAt!).toBeLessThan(SCRIPT[0][0] * 1000);
    // Talking over it: the agent is audible when the caller starts, and silent soon after (the reply comes much
    // later: the caller is still talking).
    // The caller's first sound (espeak's quiet start included): the barge-in threshold counts from there.
    const onset = firstLoud(sent, 500, 60)!;
    expect(onset).toBeGreaterThan(SCRIPT[0][0] * 1000 - 100);
    expect(firstLoud(heard, onset - 300, 300)).toBeLessThan(onset);
    // Agent silence is digital silence (all-zero PCM, µ-law 0xFF): quiet stretches of speech are not mistaken for it.
    const stoppedAt = firstQuiet(heard, onset, 20, 1000)!;
    console.log(
      `heard RMS from the onset (10 ms): ${heard
        .slice(onset / 10 - 5, onset / 10 + 40)
        .map(Math.round)
        .join(' ')}`,
    );
    const stopMs = stoppedAt - (onset + BARGE_IN_MS);
    console.log(
      `voice agent: greeting at ${greetingAt} ms; caller onset ${onset} ms; agent silent at ${stoppedAt} ms ` +
        `(${stopMs} ms after the ${BARGE_IN_MS} ms barge-in threshold)`,
    );
    expect(stopMs).toBeLessThan(150);
    // Each caller turn is answered with audio before the next one starts.
    const firstEnd = firstQuiet(sent, onset, 150, 700)!;
    const secondOnset = firstLoud(sent, firstEnd, 300)!;
    expect(firstLoud(heard, firstEnd, 300)).toBeLessThan(secondOnset);

    // The call ends once: one record, one usage event; every turn published with its latency breakdown.
    const pg = new Client({ connectionString: platform.database.url });
    await pg.connect();
    try {
      const calls = await eventually('the call record to close', async () => {
        const rows = (await pg.query(`SELECT "id", "state", "hangup_side", "hangup_cause" FROM "voice_calls"`)).rows;
        return rows.length === 1 && rows[0].state === 'ended' ? rows : null;
      });
      const callId = calls[0].id as string;
      // The caller fell silent: the agent asked once, said goodbye and hung up.
      expect(calls[0]).toMatchObject({ hangup_side: 'local', hangup_cause: 'agent_silence' });
      await eventually('two answered turns', () => (turns.filter((t) => !t.interrupted).length >= 2 ? true : null));
      for (const turn of turns) {
        expect(turn.callId).toBe(callId);
        expect(typeof turn.callerText).toBe('string');
        const latency = turn.latency as Record<string, number>;
        // 0 is right when the speculative transcription of the utterance had finished before the turn ended.
        expect(latency.asrMs).toBeGreaterThanOrEqual(0);
        expect(latency.endpointingMs).toBeGreaterThanOrEqual(0);
      }
      const answered = turns.filter((t) => !t.interrupted);
      for (const turn of answered) {
        const latency = turn.latency as Record<string, number>;
        for (const stage of ['endpointingMs', 'llmFirstTokenMs', 'firstSentenceMs', 'ttsFirstAudioMs', 'totalMs']) {
          expect(latency[stage]).toBeGreaterThanOrEqual(0);
        }
        console.log(`voice agent turn ${turn.turn}: ${JSON.stringify(latency)}`);
      }
      const transcript = (
        await pg.query(
          `SELECT "turn", "speaker", "text", "heard_text", "interrupted" FROM "voice_call_transcripts"
            WHERE "call_id" = $1 ORDER BY "seq"`,
          [callId],
        )
      ).rows;
      for (const row of transcript) console.log(`transcript: ${JSON.stringify(row)}`);
      // The greeting was cut: it is recorded with the part the caller heard, shorter than what was generated.
      const greeting = transcript.find((row) => row.turn === 0 && row.speaker === 'agent')!;
      expect(greeting.interrupted).toBe(true);
      expect(greeting.text).toBe(GREETING);
      expect(greeting.heard_text.length).toBeLessThan(GREETING.length);
      expect(GREETING.startsWith(greeting.heard_text)).toBe(true);
      expect(transcript.filter((row) => row.speaker === 'caller').length).toBeGreaterThanOrEqual(2);
      const agentLines = transcript.filter((row) => row.speaker === 'agent').map((row) => row.text);
      expect(agentLines.slice(-2)).toEqual(['Are you still there?', 'I will hang up now. Goodbye.']);
      await eventually('the usage event', () => (usage.length >= 1 ? true : null));
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(usage.filter((u) => u.requestId === callId)).toHaveLength(1);
    } finally {
      await pg.end();
    }
  }, 150_000);

  it('ends everything when the caller hangs up while the agent talks: one record, usage once', async () => {
    const dir = join(platform.root, 'caller-hangs-up');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'silence.wav'), writeWav(new Float32Array(4 * RATE), RATE));
    const turnsBefore = turns.length;
    await baresipCall({
      dir,
      wavPath: join(dir, 'silence.wav'),
      uri: `sip:${NUMBER}@127.0.0.1:${platform.env['SOVREN_VOICE_SIP_PORT']}`,
      seconds: 3,
    });
    const pg = new Client({ connectionString: platform.database.url });
    await pg.connect();
    try {
      const [call] = await eventually('the second call record to close', async () => {
        const rows = (
          await pg.query(`SELECT "id", "state", "hangup_side" FROM "voice_calls" ORDER BY "started_at" DESC LIMIT 1`)
        ).rows;
        return rows[0]?.state === 'ended' ? rows : null;
      });
      expect(call.hangup_side).toBe('remote');
      await eventually('its usage event', () => (usage.some((u) => u.requestId === call.id) ? true : null));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(usage.filter((u) => u.requestId === call.id)).toHaveLength(1);
      // The greeting was cut by the hang-up, not by a barge-in, and no turn ran after the call.
      expect(turns.length).toBe(turnsBefore);
      expect((await pg.query(`SELECT 1 FROM "voice_calls" WHERE "state" <> 'ended'`)).rows).toEqual([]);
    } finally {
      await pg.end();
    }
  }, 60_000);

  it('acts through a tool call: an application that must act hangs up when asked', async () => {
    const number = '+15557780002';
    seedAgentNumber(platform.root, {
      number,
      ownerId: OWNER,
      greeting: null,
      systemPrompt: 'Hang up when the caller asks.',
      agentActions: 'hang_up',
      toolChoice: 'required',
    });
    const dir = join(platform.root, 'caller-asks-to-hang-up');
    mkdirSync(dir, { recursive: true });
    const script = await callerScript(dir, [[1, 'Please hang up now, thank you.']], 12);
    writeFileSync(join(dir, 'caller.wav'), writeWav(script, RATE));
    const turnsBefore = turns.length;
    await baresipCall({
      dir,
      wavPath: join(dir, 'caller.wav'),
      uri: `sip:${number}@127.0.0.1:${platform.env['SOVREN_VOICE_SIP_PORT']}`,
      seconds: 12,
    });
    const pg = new Client({ connectionString: platform.database.url });
    await pg.connect();
    try {
      const [call] = await eventually('the call record to close', async () => {
        const rows = (
          await pg.query(
            `SELECT "id", "state", "hangup_side", "hangup_cause" FROM "voice_calls" WHERE "to_number" = $1`,
            [number],
          )
        ).rows;
        return rows[0]?.state === 'ended' ? rows : null;
      });
      // The turn event is published before the hang-up; its JetStream acknowledgement may come after the BYE.
      const turn = await eventually('the turn with the action', () =>
        turns.slice(turnsBefore).find((t) => t.callId === call.id),
      );
      expect(turn.actions).toEqual([{ name: 'hang_up', arguments: '{}', ok: true }]);
      expect(call).toMatchObject({ hangup_side: 'local', hangup_cause: 'agent_hangup' });
    } finally {
      await pg.end();
    }
  }, 60_000);
});
