// A real HTTP server on 127.0.0.1 for tests that stand in for an outside host (Kill Bill, Skyetel...). It
// counts connections, so a test can prove that a refused request never opened one.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';

export interface LocalTestServer {
  readonly port: number;
  /** `127.0.0.1:<port>`: the allowlist entry that admits this server. */
  readonly hostPort: string;
  readonly url: string;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Stops listening and destroys open sockets (including requests the handler never answered). */
  close(): Promise<void>;
}

export async function startLocalTestServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LocalTestServer> {
  const server: Server = createServer(handler);
  const sockets = new Set<Socket>();
  let accepted = 0;
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    hostPort: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of sockets) socket.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
