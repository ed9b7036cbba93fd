import { Logger, Module } from '@nestjs/common';
import { readWav } from '@sovren/audio';
import { DatabaseRegistry, POSTGRES_DATABASE } from '@sovren/database';
import { g711Encode, createRtpPortPool, RtpSession, serializeRtpPacket } from '@sovren/rtp';
import { ServiceModule } from '@sovren/service';
import {
  createThrowawayDatabase,
  eventually,
  NatsTestServer,
  startNestApp,
  type RunningNestApp,
  type ThrowawayPostgres,
} from '@sovren/testing';
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MediaModule } from '../media.module';
import { RecordingStore } from '../recording-store';

function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('expected a value');
  return value;
}

@Module({
  imports: [ServiceModule.forRoot({ service: 'voice', postgres: true, sqlite: [] }), MediaModule],
})
class RecordingTestModule {}

describe('RecordingStore (real PostgreSQL, real RTP on loopback)', () => {
  let database: ThrowawayPostgres;
  let nats: NatsTestServer;
  let app: RunningNestApp;
  let root: string;
  let store: RecordingStore;
  let peer: Socket;
  const owner = 'user-recording-owner';
  const rtpBase = 21000 + (process.pid % 400) * 20;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    database = await createThrowawayDatabase({ label: 'voice_recordings' });
    nats = await NatsTestServer.start({ jetstream: true });
    root = mkdtempSync(join(tmpdir(), 'sovren-recordings-'));
    app = await startNestApp(RecordingTestModule, {
      env: {
        NODE_ENV: 'test',
        SOVREN_ROOT: root,
        SOVREN_DATABASE_URL: database.url,
        SOVREN_NATS_URL: nats.url,
        SOVREN_VOICE_RECORDING_RETENTION_DAYS: '30',
      },
    });
    await app.app.get(DatabaseRegistry).get(POSTGRES_DATABASE).whenReady();
    store = app.app.get(RecordingStore);
    peer = createSocket('udp4');
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
  }, 60_000);

  afterAll(async () => {
    peer?.close();
    await app?.close();
    await nats?.stop();
    await database?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  /** A call whose caller sends 1 s of a tone while the agent side plays another. */
  async function recordCall(callId: string, startedAt: Date) {
    const pool = createRtpPortPool({ min: rtpBase, max: rtpBase + 9, bindAddress: '127.0.0.1' });
    const media = await RtpSession.open({
      pool,
      callId,
      remote: { address: '127.0.0.1', port: peer.address().port },
      format: { codec: 'PCMU', payloadType: 0, telephoneEventPayloadType: null },
    });
    try {
      const recording = await store.start({ id: callId, ownerId: owner, applicationId: 'app-1' }, media, startedAt);
      expect(recording).not.toBeNull();
      const tone = new Int16Array(160);
      for (let n = 0; n < 50; n++) {
        for (let i = 0; i < 160; i++) tone[i] = Math.round(6000 * Math.sin((2 * Math.PI * 440 * (n * 160 + i)) / 8000));
        const packet = serializeRtpPacket(
          { marker: n === 0, payloadType: 0, sequenceNumber: n, timestamp: n * 160, ssrc: 7 },
          g711Encode('PCMU', tone),
        );
        peer.send(packet, media.localPort, '127.0.0.1');
      }
      media.play(
        new Int16Array(8000).map((_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 1000 * i) / 8000))),
        8000,
      );
      await eventually('the agent audio sent', () => media.playbackQueuedMs === 0, { timeoutMs: 5000, intervalMs: 20 });
      return must(await must(recording).finish());
    } finally {
      await media.close();
    }
  }

  it('writes a stereo WAV under recordings/<yyyy>/<mm>/<call-id>.wav and its metadata row', async () => {
    const callId = randomUUID();
    const startedAt = new Date(Date.UTC(2026, 11, 2, 18, 0, 0));
    const row = await recordCall(callId, startedAt);
    const expectedPath = join(root, 'recordings', '2026', '12', `${callId}.wav`);
    expect(row).toMatchObject({
      callId,
      ownerId: owner,
      applicationId: 'app-1',
      path: expectedPath,
      sampleRate: 8000,
      channels: 2,
    });
    expect(row.expiresAt.getTime() - startedAt.getTime()).toBe(30 * 86_400_000);
    const wav = readWav(readFileSync(expectedPath));
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 2 });
    expect(row.bytes).toBe(readFileSync(expectedPath).length);
    expect(row.durationMs).toBeGreaterThanOrEqual(1000);
    // Caller (left) and agent (right) both carry sound.
    const energy = [0, 0];
    for (let i = 0; i < wav.frames; i++) for (const ch of [0, 1]) energy[ch] += wav.samples[2 * i + ch] ** 2;
    expect(energy[0]).toBeGreaterThan(0.01 * wav.frames * 0.18 ** 2);
    expect(energy[1]).toBeGreaterThan(0.01 * wav.frames * 0.18 ** 2);
  });

  it('hands the recording only to the owner of the call', async () => {
    const callId = randomUUID();
    const row = await recordCall(callId, new Date());
    const opened = await store.open(callId, owner);
    expect(opened?.bytes).toBe(row.bytes);
    const chunks: Buffer[] = [];
    for await (const chunk of must(opened).stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(await store.open(callId, 'someone-else')).toBeNull();
    expect(await store.open('../../etc/passwd', owner)).toBeNull();
  });

  it('deletes recordings past retention, file and row, and keeps the rest', async () => {
    const old = randomUUID();
    const recent = randomUUID();
    const oldRow = await recordCall(old, new Date(Date.now() - 31 * 86_400_000));
    const recentRow = await recordCall(recent, new Date());
    expect(await store.sweep()).toBeGreaterThanOrEqual(1);
    expect(existsSync(oldRow.path)).toBe(false);
    expect(await store.find(old, owner)).toBeNull();
    expect(existsSync(recentRow.path)).toBe(true);
    expect(await store.find(recent, owner)).not.toBeNull();
  });

  it('refuses a call id that is not a UUID as a file name', () => {
    expect(() => store.pathFor('../x', new Date())).toThrow(RangeError);
  });
});
