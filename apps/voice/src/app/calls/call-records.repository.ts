// PostgreSQL voice_calls: one row per call, its state timeline appended as the call moves.
import { Injectable } from '@nestjs/common';

import { VoiceDatabases } from '../voice-databases';

export type CallDirection = 'inbound' | 'outbound';
export type CallState = 'ringing' | 'answered' | 'ended';

export interface CallRecord {
  id: string;
  direction: CallDirection;
  from: string;
  to: string;
  applicationId: string | null;
  ownerId: string | null;
  sipCallId: string;
  state: CallState;
  timeline: Array<{ state: string; at: string; detail?: string }>;
  codec: string | null;
  startedAt: string;
  ringingAt: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  hangupCause: string | null;
  hangupSide: 'local' | 'remote' | null;
  sipStatus: number | null;
  rtpQuality: Record<string, unknown> | null;
  recordingPath: string | null;
}

interface RawCall {
  id: string;
  direction: CallDirection;
  from_number: string;
  to_number: string;
  application_id: string | null;
  owner_id: string | null;
  sip_call_id: string;
  state: CallState;
  timeline: CallRecord['timeline'];
  codec: string | null;
  started_at: Date;
  ringing_at: Date | null;
  answered_at: Date | null;
  ended_at: Date | null;
  hangup_cause: string | null;
  hangup_side: 'local' | 'remote' | null;
  sip_status: number | null;
  rtp_quality: Record<string, unknown> | null;
  recording_path: string | null;
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

function toRecord(raw: RawCall): CallRecord {
  return {
    id: raw.id,
    direction: raw.direction,
    from: raw.from_number,
    to: raw.to_number,
    applicationId: raw.application_id,
    ownerId: raw.owner_id,
    sipCallId: raw.sip_call_id,
    state: raw.state,
    timeline: raw.timeline,
    codec: raw.codec,
    startedAt: raw.started_at.toISOString(),
    ringingAt: iso(raw.ringing_at),
    answeredAt: iso(raw.answered_at),
    endedAt: iso(raw.ended_at),
    hangupCause: raw.hangup_cause,
    hangupSide: raw.hangup_side,
    sipStatus: raw.sip_status,
    rtpQuality: raw.rtp_quality,
    recordingPath: raw.recording_path,
  };
}

@Injectable()
export class CallRecordsRepository {
  constructor(private readonly databases: VoiceDatabases) {}

  async create(
    call: Pick<CallRecord, 'id' | 'direction' | 'from' | 'to' | 'applicationId' | 'ownerId' | 'sipCallId'>,
  ): Promise<void> {
    await this.databases.postgres().query(
      `INSERT INTO "voice_calls" ("id", "direction", "from_number", "to_number", "application_id", "owner_id",
         "sip_call_id", "state", "timeline", "ringing_at")
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'ringing', jsonb_build_array(jsonb_build_object('state', 'ringing', 'at', now())), now())`,
      [call.id, call.direction, call.from, call.to, call.applicationId, call.ownerId, call.sipCallId],
    );
  }

  async answered(id: string, codec: string): Promise<void> {
    await this.databases.postgres().query(
      `UPDATE "voice_calls" SET "state" = 'answered', "answered_at" = now(), "codec" = $2,
         "timeline" = "timeline" || jsonb_build_array(jsonb_build_object('state', 'answered', 'at', now()))
       WHERE "id" = $1 AND "state" = 'ringing'`,
      [id, codec],
    );
  }

  async event(id: string, state: string, detail: string): Promise<void> {
    await this.databases.postgres().query(
      `UPDATE "voice_calls" SET "timeline" = "timeline" || jsonb_build_array(jsonb_build_object('state', $2::text, 'at', now(), 'detail', $3::text))
       WHERE "id" = $1`,
      [id, state, detail],
    );
  }

  async ended(
    id: string,
    end: { cause: string; side: 'local' | 'remote'; sipStatus: number | null; rtpQuality: object | null },
  ): Promise<void> {
    await this.databases.postgres().query(
      `UPDATE "voice_calls" SET "state" = 'ended', "ended_at" = now(), "hangup_cause" = $2::varchar, "hangup_side" = $3::varchar,
         "sip_status" = $4, "rtp_quality" = $5::jsonb,
         "timeline" = "timeline" || jsonb_build_array(jsonb_build_object('state', 'ended', 'at', now(), 'detail', $2::varchar))
       WHERE "id" = $1 AND "state" <> 'ended'`,
      [id, end.cause, end.side, end.sipStatus, end.rtpQuality === null ? null : JSON.stringify(end.rtpQuality)],
    );
  }

  async setRecording(id: string, path: string): Promise<void> {
    await this.databases.postgres().query(`UPDATE "voice_calls" SET "recording_path" = $2 WHERE "id" = $1`, [id, path]);
  }

  /** Rows a crash left open (no BYE went out): closed at start-up so no call stays "active". */
  async closeOrphans(): Promise<number> {
    const result: unknown = await this.databases.postgres().query(
      `UPDATE "voice_calls" SET "state" = 'ended', "ended_at" = now(), "hangup_cause" = 'service_restart', "hangup_side" = 'local',
         "timeline" = "timeline" || jsonb_build_array(jsonb_build_object('state', 'ended', 'at', now(), 'detail', 'service_restart'))
       WHERE "state" <> 'ended'`,
    );
    // TypeORM answers an UPDATE on PostgreSQL with [rows, affected].
    return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
  }

  async get(id: string): Promise<CallRecord | null> {
    const rows: RawCall[] = await this.databases.postgres().query(`SELECT * FROM "voice_calls" WHERE "id" = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(ownerId: string, limit: number, before: string | null): Promise<CallRecord[]> {
    const rows: RawCall[] = await this.databases.postgres().query(
      `SELECT * FROM "voice_calls" WHERE "owner_id" = $1 AND ($2::timestamptz IS NULL OR "started_at" < $2::timestamptz)
       ORDER BY "started_at" DESC LIMIT $3`,
      [ownerId, before, limit],
    );
    return rows.map(toRecord);
  }
}
