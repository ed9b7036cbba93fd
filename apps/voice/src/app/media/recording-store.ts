// Call recordings: a stereo WAV per call (caller left, agent right) under $SOVREN_ROOT/recordings/<yyyy>/<mm>/
// <call-id>.wav, a metadata row in voice_recordings with its expiry, reading it back for the API, and the sweep
// that deletes what is past retention.
import { createReadStream, type ReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { DatabaseRegistry, POSTGRES_DATABASE } from '@sovren/database';
import { errorMessage } from '@sovren/resilience';
import { CallRecorder, type RtpSession } from '@sovren/rtp';
import type { DataSource } from 'typeorm';

import { VOICE_MEDIA_ENV, VoiceMediaEnv } from '../voice-config/voice-media.env';
import { VoiceMediaMetrics } from './voice-media.metrics';

/** G.711 is 8 kHz: recording at its own rate keeps every sample and costs 32 kB per second of call. */
const RECORDING_SAMPLE_RATE = 8000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Rows the sweep deletes per query (a backlog after downtime goes in batches). */
const SWEEP_BATCH = 500;

export interface RecordingRow {
  callId: string;
  ownerId: string;
  applicationId: string | null;
  path: string;
  bytes: number;
  durationMs: number;
  sampleRate: number;
  channels: number;
  createdAt: Date;
  expiresAt: Date;
}

interface RawRecording {
  call_id: string;
  owner_id: string;
  application_id: string | null;
  path: string;
  bytes: string;
  duration_ms: number;
  sample_rate: number;
  channels: number;
  created_at: Date;
  expires_at: Date;
}

export interface RecordingTarget {
  id: string;
  ownerId: string;
  applicationId: string | null;
}

/** A recording in progress; finish() is idempotent and never throws (a failed recording must not fail the call). */
export class ActiveRecording {
  private finishing: Promise<RecordingRow | null> | null = null;

  constructor(
    private readonly recorder: CallRecorder,
    private readonly save: (recorder: CallRecorder) => Promise<RecordingRow | null>,
  ) {}

  finish(): Promise<RecordingRow | null> {
    this.finishing ??= this.save(this.recorder);
    return this.finishing;
  }
}

@Injectable()
export class RecordingStore {
  private readonly logger = new Logger(RecordingStore.name);
  readonly root: string;

  constructor(
    config: PlatformConfig,
    @Inject(VOICE_MEDIA_ENV) private readonly env: VoiceMediaEnv,
    private readonly databases: DatabaseRegistry,
    private readonly metrics: VoiceMediaMetrics,
  ) {
    this.root = join(config.sovrenRoot, 'recordings');
  }

  /** `<root>/<yyyy>/<mm>/<call-id>.wav`, by the UTC month the call started in. */
  pathFor(callId: string, startedAt: Date): string {
    if (!UUID.test(callId)) throw new RangeError(`call id ${JSON.stringify(callId)} is not a UUID`);
    const year = String(startedAt.getUTCFullYear());
    const month = String(startedAt.getUTCMonth() + 1).padStart(2, '0');
    return join(this.root, year, month, `${callId.toLowerCase()}.wav`);
  }

  /** Starts recording the call's media; null (logged, counted) when the file cannot be created. */
  async start(call: RecordingTarget, media: RtpSession, startedAt = new Date()): Promise<ActiveRecording | null> {
    let recorder: CallRecorder;
    try {
      recorder = await CallRecorder.open(this.pathFor(call.id, startedAt), RECORDING_SAMPLE_RATE);
    } catch (error: unknown) {
      this.metrics.recordings.labels('failed').inc();
      this.logger.error({ msg: 'cannot start the call recording', callId: call.id, err: errorMessage(error) });
      return null;
    }
    recorder.attach(media);
    return new ActiveRecording(recorder, (r) => this.save(call, r, startedAt));
  }

  private async save(call: RecordingTarget, recorder: CallRecorder, startedAt: Date): Promise<RecordingRow | null> {
    try {
      const file = await recorder.close();
      const expiresAt = new Date(startedAt.getTime() + this.env.SOVREN_VOICE_RECORDING_RETENTION_DAYS * 86_400_000);
      const rows: RawRecording[] = await this.postgres().query(
        `INSERT INTO "voice_recordings" ("call_id", "owner_id", "application_id", "path", "bytes", "duration_ms",
           "sample_rate", "channels", "created_at", "expires_at")
         VALUES ($1, $2, $3, $4, $5, $6, $7, 2, $8, $9)
         ON CONFLICT ("call_id") DO NOTHING RETURNING *`,
        [
          call.id,
          call.ownerId,
          call.applicationId,
          file.path,
          file.bytes,
          Math.round(file.durationMs),
          RECORDING_SAMPLE_RATE,
          startedAt,
          expiresAt,
        ],
      );
      this.metrics.recordings.labels('saved').inc();
      return rows[0] ? toRow(rows[0]) : null;
    } catch (error: unknown) {
      this.metrics.recordings.labels('failed').inc();
      this.logger.error({ msg: 'cannot save the call recording', callId: call.id, err: errorMessage(error) });
      return null;
    }
  }

  /** The recording of one of the owner's calls, or null (none, someone else's, or its file is gone). */
  async find(callId: string, ownerId: string): Promise<RecordingRow | null> {
    if (!UUID.test(callId)) return null;
    const rows: RawRecording[] = await this.postgres().query(
      `SELECT * FROM "voice_recordings" WHERE "call_id" = $1 AND "owner_id" = $2`,
      [callId, ownerId],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  /** For GET /calls/:id/recording: the row and a stream of the WAV (Content-Type audio/wav, Content-Length bytes). */
  async open(
    callId: string,
    ownerId: string,
  ): Promise<{ recording: RecordingRow; stream: ReadStream; bytes: number } | null> {
    const recording = await this.find(callId, ownerId);
    if (!recording) return null;
    const stream = createReadStream(recording.path);
    const opened = await new Promise<boolean>((resolve) => {
      stream.once('open', () => resolve(true));
      stream.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT')
          this.logger.error({ msg: 'cannot read a call recording', callId, path: recording.path, err: error.message });
        resolve(false);
      });
    });
    return opened ? { recording, stream, bytes: recording.bytes } : null;
  }

  /** Deletes recordings past their expiry (file, then row); returns how many went. */
  async sweep(now = new Date()): Promise<number> {
    let deleted = 0;
    for (;;) {
      const rows: { call_id: string; path: string }[] = await this.postgres().query(
        `SELECT "call_id", "path" FROM "voice_recordings" WHERE "expires_at" <= $1 ORDER BY "expires_at" LIMIT $2`,
        [now, SWEEP_BATCH],
      );
      if (rows.length === 0) return deleted;
      const gone: string[] = [];
      for (const row of rows) {
        try {
          await unlink(row.path);
          gone.push(row.call_id);
        } catch (error: unknown) {
          // Already deleted by hand: the row goes too. Anything else (permissions) keeps the row for the next sweep.
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') gone.push(row.call_id);
          else
            this.logger.error({ msg: 'cannot delete an expired recording', path: row.path, err: errorMessage(error) });
        }
      }
      if (gone.length > 0)
        await this.postgres().query(`DELETE FROM "voice_recordings" WHERE "call_id" = ANY($1::uuid[])`, [gone]);
      deleted += gone.length;
      this.metrics.recordingsSwept.inc(gone.length);
      if (gone.length < rows.length || rows.length < SWEEP_BATCH) return deleted;
    }
  }

  private postgres(): DataSource {
    const entry = this.databases.get(POSTGRES_DATABASE);
    if (!entry.isReady())
      throw new Error(`database ${POSTGRES_DATABASE} is not available: ${entry.error() ?? entry.status()}`);
    return entry.dataSource;
  }
}

function toRow(raw: RawRecording): RecordingRow {
  return {
    callId: raw.call_id,
    ownerId: raw.owner_id,
    applicationId: raw.application_id,
    path: raw.path,
    bytes: Number(raw.bytes),
    durationMs: raw.duration_ms,
    sampleRate: raw.sample_rate,
    channels: raw.channels,
    createdAt: new Date(raw.created_at),
    expiresAt: new Date(raw.expires_at),
  };
}
