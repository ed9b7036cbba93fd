// The private NATS server really serves, really goes away when stopped, and comes back on the same address.
import { connect } from 'nats';

import { NatsTestServer } from '../nats-test.server';

describe('NatsTestServer', () => {
  it('serves NATS with JetStream, refuses connections while stopped and restarts on the same port', async () => {
    const server = await NatsTestServer.start({ jetstream: true });
    try {
      const first = await connect({ servers: server.url, reconnect: false });
      const info = await (await first.jetstreamManager()).getAccountInfo();
      expect(info.streams).toBe(0);
      await first.close();

      await server.stop();
      await expect(connect({ servers: server.url, reconnect: false, timeout: 500 })).rejects.toThrow();

      await server.restart();
      const again = await connect({ servers: server.url, reconnect: false });
      await again.flush();
      await again.close();
    } finally {
      await server.dispose();
    }
  });
});
