// The voice agent's settings (models, turn-taking, barge-in, silence), validated at start-up like the rest of the
// voice service's environment. Per-application settings (greeting, prompt, voice, language, end-of-turn silence)
// live in applications.db.
import { IsIntegerInRange, IsOneOf, ToInteger } from '@sovren/config';
import { IsString, Matches, MaxLength } from 'class-validator';

const MODEL_ID = /^$|^[A-Za-z0-9._:-]+$/;

export class AgentEnv {
  /** LLM for agent replies (an id of `inference.models`); empty: the first loaded LLM, else the first one listed. */
  @IsString()
  @MaxLength(128)
  @Matches(MODEL_ID)
  SOVREN_VOICE_AGENT_LLM_MODEL = '';

  /** Whisper model for the caller's speech; empty: the first speech-recognition model inference lists. */
  @IsString()
  @MaxLength(128)
  @Matches(MODEL_ID)
  SOVREN_VOICE_AGENT_ASR_MODEL = '';

  /** Speech-synthesis model; empty: the first TTS model inference lists. */
  @IsString()
  @MaxLength(128)
  @Matches(MODEL_ID)
  SOVREN_VOICE_AGENT_TTS_MODEL = '';

  /** Voice when the application names none; empty: the TTS model's first voice (inference decides). */
  @IsString()
  @MaxLength(128)
  @Matches(MODEL_ID)
  SOVREN_VOICE_AGENT_DEFAULT_VOICE = '';

  /** Most tokens of one agent reply (spoken replies are short). */
  @ToInteger()
  @IsIntegerInRange(8, 2048)
  SOVREN_VOICE_AGENT_MAX_REPLY_TOKENS = 160;

  /** Conversation kept for the LLM: the system prompt plus the latest turns within about this many tokens. */
  @ToInteger()
  @IsIntegerInRange(256, 131072)
  SOVREN_VOICE_AGENT_HISTORY_TOKENS = 3000;

  /**
   * Transcribe the utterance as soon as the caller has been silent for 200 ms, before the end-of-turn silence is
   * over; the transcript is then ready (or nearly) when the turn ends. Utterances that go on are billed twice.
   */
  @IsOneOf(['true', 'false'])
  SOVREN_VOICE_AGENT_SPECULATIVE_ASR_ENABLED = 'true';

  /** Caller speech while the agent talks holds its audio back after this much speech (ms). */
  @ToInteger()
  @IsIntegerInRange(100, 2000)
  SOVREN_VOICE_AGENT_BARGE_IN_MS = 200;

  /** Speech shorter than this ("mm-hm", "yeah") is a backchannel: the held audio resumes (ms). */
  @ToInteger()
  @IsIntegerInRange(100, 3000)
  SOVREN_VOICE_AGENT_BACKCHANNEL_MS = 400;

  /** Silence after the agent's last word before it asks whether the caller is still there (s); 0: never. */
  @ToInteger()
  @IsIntegerInRange(0, 600)
  SOVREN_VOICE_AGENT_SILENCE_PROMPT_S = 10;

  /** What the agent says then. */
  @IsString()
  @MaxLength(500)
  SOVREN_VOICE_AGENT_SILENCE_PROMPT = 'Are you still there?';

  /** What the agent says before hanging up after a second silence as long. */
  @IsString()
  @MaxLength(500)
  SOVREN_VOICE_AGENT_GOODBYE = 'I will hang up now. Goodbye.';
}

export const AGENT_ENV = Symbol('AGENT_ENV');

/** Barge-in must hold the audio before deciding it is more than a backchannel. */
export function validateAgentEnv(env: AgentEnv): AgentEnv {
  if (env.SOVREN_VOICE_AGENT_BACKCHANNEL_MS < env.SOVREN_VOICE_AGENT_BARGE_IN_MS) {
    throw new Error('SOVREN_VOICE_AGENT_BACKCHANNEL_MS must be at least SOVREN_VOICE_AGENT_BARGE_IN_MS');
  }
  return env;
}
