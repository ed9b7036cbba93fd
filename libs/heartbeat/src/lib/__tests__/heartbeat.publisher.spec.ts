// HeartbeatModule inside a Nest application against the real test NATS server: beats arrive on the service's
// subject, follow readiness, and stop at shutdown.
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigModule } from '@sovren/config';
import { testPlatformConfig } from '@sovren/config/testing';
import { HeartbeatV1, heartbeatSubject, MessagingModule, parseHeartbeatV1 } from '@sovren/messaging';
import { ObservabilityModule } from '@sovren/observability';
import { connect, JSONCodec, NatsConnection } from 'nats';

import { HeartbeatReadinessSource } from '../heartbeat.message';
import { HeartbeatModule } from '../heartbeat.module';
import { HeartbeatPublisher } from '../heartbeat.publisher';

const NATS_URL = process.env['SOVREN_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

/** Readiness the test switches: the heartbeat only needs something answering check(). */
@Injectable()
class SwitchableReadiness implements HeartbeatReadinessSource {
  static failing: string[] = [];
  async check() {
    const failing = SwitchableReadiness.failing;
    return {
      ready: failing.length === 0,
      failing,
      checks: [
        { name: 'nats', ok: true },
        ...failing.map((name) => ({ name, ok: false, error: `${name} refused the connection` })),
      ],
    };
  }
}

describe('HeartbeatModule', () => {
  let nc: NatsConnection;
  const saved = process.env['SOVREN_HEARTBEAT_INTERVAL_SECONDS'];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
  });
  afterAll(async () => {
    await nc.drain();
    if (saved === undefined) delete process.env['SOVREN_HEARTBEAT_INTERVAL_SECONDS'];
    else process.env['SOVREN_HEARTBEAT_INTERVAL_SECONDS'] = saved;
  });

  async function startApp() {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot(testPlatformConfig({ SOVREN_NATS_URL: NATS_URL, SOVREN_VERSION: '9.9.9-test' })),
        ObservabilityModule.forRoot('voice'),
        MessagingModule.forRoot({ service: 'voice', ensureStreams: false }),
        HeartbeatModule.forRoot({ service: 'voice', readiness: SwitchableReadiness }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  /** Collects beats on voice's subject until `done` says stop. */
  function collect(done: (beats: HeartbeatV1[]) => boolean): Promise<HeartbeatV1[]> {
    const codec = JSONCodec<unknown>();
    const beats: HeartbeatV1[] = [];
    const sub = nc.subscribe(heartbeatSubject('voice'));
    return (async () => {
      for await (const msg of sub) {
        beats.push(parseHeartbeatV1(codec.decode(msg.data)));
        if (done(beats)) break;
      }
      sub.unsubscribe();
      return beats;
    })();
  }

  it('publishes a valid heartbeat every interval, degraded with the failing dependency while not ready', async () => {
    process.env['SOVREN_HEARTBEAT_INTERVAL_SECONDS'] = '1';
    SwitchableReadiness.failing = [];
    const first = collect((beats) => beats.length >= 1);
    const app = await startApp();
    try {
      const [beat] = await first;
      const publisher = app.get(HeartbeatPublisher);
      expect(beat).toMatchObject({
        v: 1,
        service: 'voice',
        instance: publisher.instance,
        version: '9.9.9-test',
        status: 'ok',
        intervalSeconds: 1,
      });
      expect(beat.failing).toBeUndefined();

      SwitchableReadiness.failing = ['postgres'];
      const degraded = await collect((beats) => beats.some((b) => b.status === 'degraded'));
      const last = degraded[degraded.length - 1];
      expect(last.failing).toEqual(['postgres']);
      expect(last.lastError).toBe('postgres: postgres refused the connection');
    } finally {
      SwitchableReadiness.failing = [];
      await app.close();
    }
  });

  it('refuses a bad SOVREN_HEARTBEAT_INTERVAL_SECONDS at start-up, naming it', async () => {
    process.env['SOVREN_HEARTBEAT_INTERVAL_SECONDS'] = 'often';
    await expect(startApp()).rejects.toThrow(/SOVREN_HEARTBEAT_INTERVAL_SECONDS: must be an integer 1-300 \(seconds\)/);
  });
});
