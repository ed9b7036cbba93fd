// @sovren/testing/voice-agent: what a test or benchmark of the voice agent puts in place — tiny random-weight
// models of each kind the agent uses (LLM, Whisper, TTS) under a SOVREN_ROOT, an agent application routed from a
// number in the voice service's SQLite files, and caller audio spoken by espeak-ng at the telephone rate.
// A separate entry point: it pulls in the model writers, which the rest of @sovren/testing's users do not need.
import { downmixToMono, readWav, resample } from '@sovren/audio';
import { WhisperType, writeTinyModel, writeTinyWhisperModel } from '@sovren/engine/testing';
import { writeTestTtsModel } from '@sovren/speech/testing';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const AGENT_TEST_RATE = 8000;
/** A voice of the test TTS model. */
export const AGENT_TEST_VOICE = 'af_test';

/** models/llms/agent-llm.gguf, models/whisper/ggml-agent-asr.bin and models/tts/agent-tts under `root`. */
export async function writeAgentTestModels(root: string): Promise<void> {
  const models = join(root, 'models');
  for (const kind of ['llms', 'whisper', 'tts']) mkdirSync(join(models, kind), { recursive: true });
  await writeTinyModel(join(models, 'llms', 'agent-llm.gguf'), {
    contextLength: 2048,
    muteEndOfGeneration: true,
    seed: 11,
  });
  writeTinyWhisperModel(join(models, 'whisper', 'ggml-agent-asr.bin'), {
    type: WhisperType.F16,
    nAudioLayer: 1,
    nTextLayer: 1,
    nTextCtx: 64,
  });
  writeTestTtsModel(join(models, 'tts', 'agent-tts'));
}

export interface AgentApplicationSeed {
  number: string;
  ownerId: string;
  greeting: string | null;
  systemPrompt: string;
  endOfTurnMs?: number;
  /** Comma-separated actions (default: the column's default). */
  agentActions?: string;
  toolChoice?: 'auto' | 'required' | 'none';
}

/** An agent application and the number routed to it, as the numbers API stores them; returns the application id. */
export function seedAgentNumber(root: string, seed: AgentApplicationSeed): string {
  const applicationId = randomUUID();
  const apps = new Database(join(root, 'data', 'applications.db'));
  try {
    apps
      .prepare(
        `INSERT INTO "voice_applications" ("id", "owner_id", "name", "media_app", "greeting", "system_prompt",
           "voice", "language", "end_of_turn_ms", "agent_actions", "agent_tool_choice")
         VALUES (?, ?, ?, 'agent', ?, ?, ?, 'en', ?, ?, ?)`,
      )
      .run(
        applicationId,
        seed.ownerId,
        `agent ${seed.number}`,
        seed.greeting,
        seed.systemPrompt,
        AGENT_TEST_VOICE,
        seed.endOfTurnMs ?? 600,
        seed.agentActions ?? 'hang_up,send_dtmf',
        seed.toolChoice ?? 'auto',
      );
  } finally {
    apps.close();
  }
  const numbers = new Database(join(root, 'data', 'phone_numbers.db'));
  try {
    numbers
      .prepare(`INSERT INTO "phone_numbers" ("id", "number", "owner_id", "application_id") VALUES (?, ?, ?, ?)`)
      .run(randomUUID(), seed.number, seed.ownerId, applicationId);
  } finally {
    numbers.close();
  }
  return applicationId;
}

/** `text` spoken by espeak-ng (en-us, 160 words a minute), mono at 8 kHz; `dir` keeps the 22 kHz original. */
export async function espeakAt8k(dir: string, name: string, text: string): Promise<Float32Array> {
  const path = join(dir, `${name}.wav`);
  execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', path, text]);
  const wav = readWav(readFileSync(path));
  const mono = wav.channels === 1 ? wav.samples : downmixToMono(wav.samples, wav.channels);
  return resample(mono, wav.sampleRate, AGENT_TEST_RATE);
}

/** A caller's side: each line spoken from its start second, silence elsewhere, `seconds` long in all (8 kHz). */
export async function callerScript(
  dir: string,
  lines: ReadonlyArray<readonly [number, string]>,
  seconds: number,
): Promise<Float32Array> {
  const script = new Float32Array(Math.round(seconds * AGENT_TEST_RATE));
  for (const [index, [at, text]] of lines.entries()) {
    const start = Math.round(at * AGENT_TEST_RATE);
    script.set((await espeakAt8k(dir, `line-${index}`, text)).slice(0, Math.max(0, script.length - start)), start);
  }
  return script;
}
