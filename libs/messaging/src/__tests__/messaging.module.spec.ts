// Specification of MessagingModule inside a Nest application: connects at start-up, drains at shutdown,
// and starts (not ready) when NATS is unreachable.

import { Test } from '@nestjs/testing';
import { ConfigModule } from '@sovren/config';
import { testPlatformConfig } from '@sovren/config/testing';
import { MessagingModule, NatsClient, pingSubject } from '../index';
import { eventually, freePort, TEST_NATS_URL } from '@sovren/testing';

async function startApp(natsUrl: string) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(testPlatformConfig({ SOVREN_NATS_URL: natsUrl })),
      MessagingModule.forRoot({ service: 'auth' }),
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('MessagingModule', () => {
  it('connects at start-up, ensures the streams and drains on shutdown', async () => {
    const app = await startApp(TEST_NATS_URL);
    const client = app.get(NatsClient);
    try {
      expect(client.isConnected()).toBe(true);
      client.respond(pingSubject('auth'), () => ({ pong: true }));
      await expect(client.request(pingSubject('auth'), {})).resolves.toEqual({ pong: true });
      // The streams are ensured by the on-connect hook, which runs beside start-up rather than before it returns.
      const jsm = await client.jetstreamManager();
      await eventually('the AGENTS stream to be ensured', () => jsm.streams.info('AGENTS'));
    } finally {
      await app.close();
    }
    expect(client.status()).toBe('closed');
  });

  it('starts without NATS and reports the connection as not ready', async () => {
    const app = await startApp(`nats://127.0.0.1:${await freePort()}`);
    const client = app.get(NatsClient);
    try {
      expect(client.isConnected()).toBe(false);
      expect(client.check()).toMatchObject({ name: 'nats', ok: false });
    } finally {
      await app.close();
    }
    expect(client.status()).toBe('closed');
  });
});
