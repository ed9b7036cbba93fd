// PostgreSQL voice_call_transcripts: the utterances of both sides of an agent call, in order.
import { Injectable } from '@nestjs/common';

import { VoiceDatabases } from '../voice-databases';
import type { TranscriptEntry, TurnLatency } from './agent-session';

export interface TranscriptRow {
  seq: number;
  turn: number;
  speaker: 'caller' | 'agent';
  text: string;
  heardText: string | null;
  interrupted: boolean;
  startedAt: string;
  endedAt: string;
  latency: TurnLatency | null;
}

interface RawRow {
  seq: number;
  turn: number;
  speaker: 'caller' | 'agent';
  text: string;
  heard_text: string | null;
  interrupted: boolean;
  started_at: Date;
  ended_at: Date;
  latency: TurnLatency | null;
}

/** PostgreSQL text cannot hold NUL; a model can emit one (U+FFFD keeps the place visible). */
function storable(text: string | null): string | null {
  return text === null ? null : text.replaceAll('\u0000', '\uFFFD');
}

@Injectable()
export class CallTranscriptsRepository {
  constructor(private readonly databases: VoiceDatabases) {}

  async add(callId: string, seq: number, entry: TranscriptEntry): Promise<void> {
    const endedAt = entry.endedAt < entry.startedAt ? entry.startedAt : entry.endedAt;
    await this.databases.postgres().query(
      `INSERT INTO "voice_call_transcripts"
         ("call_id", "seq", "turn", "speaker", "text", "heard_text", "interrupted", "started_at", "ended_at", "latency")
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        callId,
        seq,
        entry.turn,
        entry.speaker,
        storable(entry.text),
        storable(entry.heardText),
        entry.interrupted,
        entry.startedAt,
        endedAt,
        entry.latency ? JSON.stringify(entry.latency) : null,
      ],
    );
  }

  async list(callId: string): Promise<TranscriptRow[]> {
    const rows: RawRow[] = await this.databases
      .postgres()
      .query(`SELECT * FROM "voice_call_transcripts" WHERE "call_id" = $1 ORDER BY "seq"`, [callId]);
    return rows.map((raw) => ({
      seq: raw.seq,
      turn: raw.turn,
      speaker: raw.speaker,
      text: raw.text,
      heardText: raw.heard_text,
      interrupted: raw.interrupted,
      startedAt: raw.started_at.toISOString(),
      endedAt: raw.ended_at.toISOString(),
      latency: raw.latency,
    }));
  }
}
