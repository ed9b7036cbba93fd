// Test support: where the real NATS server is, and a private nats-server on a free port for outage tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

export const TEST_NATS_URL = process.env['SOVREN_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const NATS_SERVER_BINARY = process.env['SOVREN_NATS_SERVER_BIN'] ?? 'nats-server';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, '127.0.0.1');
  });
}

/** Starts `nats-server` on `port` and resolves once it accepts connections. */
export async function startNatsServer(port: number): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER_BINARY, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  let failure: Error | undefined;
  child.once('error', (error) => {
    failure = new Error(`could not start ${NATS_SERVER_BINARY}: ${error.message}`);
  });
  for (let i = 0; i < 100; i += 1) {
    if (failure) throw failure;
    if (await portAccepts(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${NATS_SERVER_BINARY} did not listen on port ${port}`);
}

export async function stopNatsServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}
