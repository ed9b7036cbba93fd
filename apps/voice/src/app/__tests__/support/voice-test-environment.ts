// Test support: the real voice app in this process with everything it talks to for real — a throwaway PostgreSQL
// database, a private nats-server with JetStream, auth.validate answered by the stand-in, SQLite files under a
// temporary SOVREN_ROOT — plus SIPp (Debian sip-tester) to play the carrier, and a way to seed numbers and
// applications the way the numbers API and the applications table hold them.
import { Logger } from '@nestjs/common';
import { aLawEncode, muLawEncode } from '@sovren/audio';
import { AuthValidateResponder } from '@sovren/messaging/testing';
import {
  createThrowawayDatabase,
  freePort,
  NatsTestServer,
  OwnedProcess,
  startNestApp,
  type RunningNestApp,
} from '@sovren/testing';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

import { VoiceModule } from '../../voice.module';

export const SIPP_DIR = join(__dirname, '..', 'sipp');

/** Installs SIPp (Debian sip-tester) when it is missing, as the CI script does for other packages. */
export function ensureSipp(): void {
  try {
    execFileSync('sipp', ['-v'], { stdio: 'ignore' });
  } catch {
    execFileSync('bash', [join(__dirname, '../../../../../../tools/ci/ensure-system-packages.sh')], {
      stdio: 'inherit',
    });
  }
}

export interface VoiceTestEnvironment {
  voice: RunningNestApp;
  sipPort: number;
  /** SIPp's own SIP port for scenarios where it is the carrier's proxy (outbound calls). */
  carrierPort: number;
  auth: AuthValidateResponder;
  nats: NatsTestServer;
  root: string;
  apiKey: string;
  userId: string;
  /** A 1 s 440 Hz tone as raw µ-law (`tone.ulaw`) and A-law (`tone.alaw`) in `root`, for SIPp's rtp_stream. */
  toneFile: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Adds one of our numbers routed to a new application of the test user; returns the application id. */
  seedNumber(number: string, application?: SeedApplication): string;
  /** Runs one SIPp scenario to completion; resolves with its exit code and output. */
  sipp(scenario: string, options?: SippOptions): Promise<{ code: number | null; output: string }>;
  /** What a scenario's `<log>` actions wrote ('' when none). */
  sippLog(scenario: string): string;
  /** Starts a SIPp scenario in the background (a UAS waiting for our call). */
  sippBackground(scenario: string, options?: SippOptions): OwnedProcess;
  /** Shuts the voice app down (once; dispose() does it too), leaving the database and NATS up to inspect. */
  stopVoice(): Promise<void>;
  dispose(): Promise<void>;
}

export interface SeedApplication {
  mediaApp?: 'echo' | 'play' | 'record' | 'agent';
  ringSeconds?: number;
  maxDurationSeconds?: number;
  recording?: boolean;
  /** A file name under $SOVREN_ROOT/prompts. */
  promptWav?: string;
}

export interface SippOptions {
  service?: string;
  /** Source address (127.0.0.2 is outside the trusted 127.0.0.1/32). */
  localIp?: string;
  port?: number;
  transport?: 'u1' | 't1';
  calls?: number;
  timeoutSeconds?: number;
  /** `true`: SIPp is the server (no remote host). */
  server?: boolean;
}

export async function startVoiceTestEnvironment(extraEnv: Record<string, string> = {}): Promise<VoiceTestEnvironment> {
  Logger.overrideLogger(['error']);
  ensureSipp();
  const database = await createThrowawayDatabase({ label: 'voice' });
  const nats = await NatsTestServer.start({ jetstream: true });
  const auth = await AuthValidateResponder.start(nats.url);
  const user = auth.apiKey({ scopes: ['voice:calls', 'voice:numbers'] });
  const root = mkdtempSync(join(tmpdir(), 'sovren-voice-test-'));
  const sipPort = await freePort();
  const carrierPort = await freePort();
  const rtpBase = 20000 + Math.floor(Math.random() * 20) * 1000;
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    SOVREN_LOG_LEVEL: 'warn',
    SOVREN_ROOT: root,
    SOVREN_DATABASE_URL: database.url,
    SOVREN_NATS_URL: nats.url,
    SOVREN_SHUTDOWN_TIMEOUT_MS: '5000',
    SOVREN_VOICE_SIP_PORT: String(sipPort),
    SOVREN_VOICE_SIP_BIND: '127.0.0.1',
    SOVREN_VOICE_EXTERNAL_ADDRESS: '127.0.0.1',
    SOVREN_VOICE_TRUSTED_SIP_NETWORKS: '127.0.0.1/32',
    SOVREN_VOICE_RTP_PORT_MIN: String(rtpBase),
    SOVREN_VOICE_RTP_PORT_MAX: String(rtpBase + 999),
    SOVREN_VOICE_SIP_OUTBOUND_PROXY: `127.0.0.1:${carrierPort}`,
    SOVREN_VOICE_SIP_USERNAME: 'sovren-trunk',
    SOVREN_VOICE_SIP_PASSWORD: 'trunk-secret',
    SOVREN_SKYETEL_SYNC_MINUTES: '0',
    ...extraEnv,
  };
  const voice = await startNestApp(VoiceModule, { env, port: await freePort() });
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  const toneFile = join(root, 'tone.ulaw');
  const tone = new Int16Array(8000);
  for (let i = 0; i < tone.length; i += 1) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  writeFileSync(toneFile, Buffer.from(muLawEncode(tone)));
  writeFileSync(join(root, 'tone.alaw'), Buffer.from(aLawEncode(tone)));
  const processes: OwnedProcess[] = [];
  let voiceStopped: Promise<void> | null = null;
  const stopVoice = (): Promise<void> => (voiceStopped ??= voice.close());

  // SIPp runs in `root`: its rtp_stream action takes a file name as written (no [field] substitution there).
  const sippArgs = (scenario: string, options: SippOptions): string[] => {
    const args = [
      '-sf',
      join(SIPP_DIR, scenario),
      '-i',
      options.localIp ?? '127.0.0.1',
      '-p',
      String(options.port ?? 0),
      '-t',
      options.transport ?? 'u1',
      '-m',
      String(options.calls ?? 1),
      '-timeout',
      `${options.timeoutSeconds ?? 30}s`,
      '-timeout_error',
      '-nostdin',
      '-trace_err',
      '-error_file',
      join(root, `sipp-${scenario}-errors.log`),
      '-trace_logs',
      '-log_file',
      join(root, `sipp-${scenario}.log`),
    ];
    if (!options.server) args.push('-s', options.service ?? '+15551230000', `127.0.0.1:${sipPort}`);
    return args;
  };

  return {
    voice,
    sipPort,
    carrierPort,
    auth,
    nats,
    root,
    apiKey: user.credential,
    userId: user.userId,
    toneFile,
    query: async <T>(sql: string, params: unknown[] = []) => (await pg.query(sql, params)).rows as T[],
    seedNumber: (number, application = {}) => {
      const applicationId = randomUUID();
      const apps = new Database(join(root, 'data', 'applications.db'));
      apps
        .prepare(
          `INSERT INTO "voice_applications" ("id", "owner_id", "name", "media_app", "ring_seconds",
             "max_duration_seconds", "recording", "prompt_wav")
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          applicationId,
          user.userId,
          `test ${number}`,
          application.mediaApp ?? 'echo',
          application.ringSeconds ?? 0,
          application.maxDurationSeconds ?? null,
          application.recording ? 1 : 0,
          application.promptWav ?? null,
        );
      apps.close();
      const numbers = new Database(join(root, 'data', 'phone_numbers.db'));
      numbers
        .prepare(`INSERT INTO "phone_numbers" ("id", "number", "owner_id", "application_id") VALUES (?, ?, ?, ?)`)
        .run(randomUUID(), number, user.userId, applicationId);
      numbers.close();
      return applicationId;
    },
    sipp: async (scenario, options = {}) => {
      const sipp = new OwnedProcess(`sipp ${scenario}`, 'sipp', sippArgs(scenario, options), process.env, {
        cwd: root,
      });
      processes.push(sipp);
      await sipp.waitForExit();
      return { code: sipp.exit?.code ?? null, output: sipp.lines.join('\n') };
    },
    sippLog: (scenario) => {
      const file = join(root, `sipp-${scenario}.log`);
      return existsSync(file) ? readFileSync(file, 'utf8') : '';
    },
    sippBackground: (scenario, options = {}) => {
      const sipp = new OwnedProcess(
        `sipp ${scenario}`,
        'sipp',
        sippArgs(scenario, { ...options, server: true }),
        process.env,
        { cwd: root },
      );
      processes.push(sipp);
      return sipp;
    },
    stopVoice,
    dispose: async () => {
      for (const p of processes) await p.stop(2_000);
      await stopVoice();
      await pg.end();
      await auth.close();
      await nats.dispose();
      rmSync(root, { recursive: true, force: true });
      await database.drop();
    },
  };
}
