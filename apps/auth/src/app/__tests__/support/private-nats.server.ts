// Test support: a private nats-server (JetStream on) per test file, so auth.validate responders of tests
// running in parallel (or the platform e2e suite's auth) never answer each other's requests.
import { NatsTestServer } from '@sovren/testing';

export { freePort } from '@sovren/testing';

export interface PrivateNats {
  url: string;
  stop(): Promise<void>;
}

export async function startPrivateNats(): Promise<PrivateNats> {
  const server = await NatsTestServer.start({ jetstream: true });
  return { url: server.url, stop: () => server.dispose() };
}
