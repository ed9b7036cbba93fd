// Asks the kernel for a free TCP port on loopback.
import { createServer } from 'node:net';

/** Ports handed out by this process, and when: the kernel may give a just-closed port again at once. */
const handedOut = new Map<number, number>();
const REMEMBER_MS = 5 * 60_000;
const MAX_TRIES = 50;

function ephemeralPort(): Promise<number> {
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

/**
 * A TCP port on 127.0.0.1 that nothing listens on now and that this process has not handed out in the last five
 * minutes, so that several ports asked for in a row (one per service) are all different.
 */
export async function freePort(): Promise<number> {
  const now = Date.now();
  for (const [port, at] of handedOut) if (now - at > REMEMBER_MS) handedOut.delete(port);
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const port = await ephemeralPort();
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.set(port, now);
      return port;
    }
  }
  throw new Error(`no free port found in ${MAX_TRIES} tries that was not already handed out`);
}
