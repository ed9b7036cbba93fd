// applications.db: what answers a call (read by routing and outbound calls).
import { Injectable } from '@nestjs/common';

import { VoiceDatabases } from '../voice-databases';

export type MediaApp = 'echo' | 'play' | 'record' | 'agent';
/** What a voice agent may do besides talking, as tool calls. */
export const AGENT_ACTIONS = ['hang_up', 'send_dtmf', 'transfer_call'] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];
export type AgentToolChoice = 'auto' | 'required' | 'none';

export interface VoiceApplication {
  id: string;
  ownerId: string;
  name: string;
  greeting: string | null;
  systemPrompt: string | null;
  voice: string | null;
  language: string;
  maxDurationSeconds: number | null;
  recording: boolean;
  /** Let an inbound call ring this long before answering. */
  ringSeconds: number;
  mediaApp: MediaApp;
  promptWav: string | null;
  /** Agent applications: the caller's silence that ends a turn (ms). */
  endOfTurnMs: number;
  /** The actions the agent may take (unknown names in the column are ignored). */
  agentActions: AgentAction[];
  /** The E.164 numbers transfer_call may name. */
  transferNumbers: string[];
  agentToolChoice: AgentToolChoice;
}

interface RawApplication {
  id: string;
  owner_id: string;
  name: string;
  greeting: string | null;
  system_prompt: string | null;
  voice: string | null;
  language: string;
  max_duration_seconds: number | null;
  recording: number;
  ring_seconds: number;
  media_app: MediaApp;
  prompt_wav: string | null;
  end_of_turn_ms: number;
  agent_actions: string;
  transfer_numbers: string;
  agent_tool_choice: AgentToolChoice;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

@Injectable()
export class ApplicationsRepository {
  constructor(private readonly databases: VoiceDatabases) {}

  async find(id: string): Promise<VoiceApplication | null> {
    const rows: RawApplication[] = await this.databases
      .applications()
      .query(`SELECT * FROM "voice_applications" WHERE "id" = ? AND "deleted_at" IS NULL`, [id]);
    const raw = rows[0];
    if (!raw) return null;
    return {
      id: raw.id,
      ownerId: raw.owner_id,
      name: raw.name,
      greeting: raw.greeting,
      systemPrompt: raw.system_prompt,
      voice: raw.voice,
      language: raw.language,
      maxDurationSeconds: raw.max_duration_seconds,
      recording: Boolean(raw.recording),
      ringSeconds: raw.ring_seconds,
      mediaApp: raw.media_app,
      promptWav: raw.prompt_wav,
      endOfTurnMs: raw.end_of_turn_ms,
      agentActions: list(raw.agent_actions).filter((a): a is AgentAction =>
        (AGENT_ACTIONS as readonly string[]).includes(a),
      ),
      transferNumbers: list(raw.transfer_numbers).filter((n) => /^\+[1-9]\d{6,14}$/.test(n)),
      agentToolChoice: raw.agent_tool_choice,
    };
  }
}
