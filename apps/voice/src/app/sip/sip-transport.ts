// SIP over UDP and TCP on one port, and over TLS on its own port when a certificate is configured: datagrams and
// framed stream messages in, bytes out to a peer. Stream connections are kept by transport and peer address so
// responses and in-dialog requests reuse them (RFC 3261 §18); idle ones are closed. Our outbound TLS connections
// verify the carrier's certificate (RFC 5922: against the host we dialled).
import { Logger } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import { SipParseError, SipStreamFramer, type SipPeer } from '@sovren/sip';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, isIP, isIPv6, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';

/** SIP over TLS: the PEM certificate chain and key we serve, its port, and the CA that checks carriers (optional). */
export interface SipTlsOptions {
  cert: Buffer;
  key: Buffer;
  port: number;
  ca?: Buffer;
}

export type InboundHandler = (data: Buffer, peer: SipPeer) => void;
export type FramingErrorHandler = (peer: SipPeer, error: Error) => void;

const TCP_IDLE_MS = 5 * 60_000;
const MAX_TCP_CONNECTIONS = 1024;

export class SipTransport {
  private readonly logger = new Logger(SipTransport.name);
  private udp: UdpSocket | null = null;
  private tcp: Server | null = null;
  private tls: Server | null = null;
  private tlsCa: Buffer | undefined;
  private readonly connections = new Map<string, Socket>();
  private port = 0;
  private tlsPortNumber = 0;

  constructor(
    private readonly onMessage: InboundHandler,
    private readonly onFramingError: FramingErrorHandler,
  ) {}

  get localPort(): number {
    return this.port;
  }

  /** The TLS port, or 0 when TLS is not served. */
  get tlsPort(): number {
    return this.tlsPortNumber;
  }

  async listen(bind: string, port: number, withTcp: boolean, tls?: SipTlsOptions): Promise<void> {
    const udp = createSocket({ type: isIPv6(bind) ? 'udp6' : 'udp4', reuseAddr: false });
    udp.on('message', (data, info) =>
      this.onMessage(data, { transport: 'UDP', address: info.address, port: info.port }),
    );
    udp.on('error', (error) => this.logger.error({ msg: 'SIP UDP socket error', err: errorMessage(error) }));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, bind, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.udp = udp;
    this.port = udp.address().port;
    if (withTcp) {
      const tcp = createServer((socket) => this.adopt(socket, 'TCP'));
      this.tcp = await this.serve(tcp, bind, this.port, 'TCP');
    }
    if (tls) {
      this.tlsCa = tls.ca;
      const server = createTlsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, (socket) =>
        this.adopt(socket, 'TLS'),
      );
      // A scanner's failed handshake is its problem: log it at debug level, never crash.
      server.on('tlsClientError', (error, socket) =>
        this.logger.debug({ msg: 'SIP TLS handshake failed', peer: socket.remoteAddress, err: errorMessage(error) }),
      );
      this.tls = await this.serve(server, bind, tls.port, 'TLS');
      const address = server.address();
      this.tlsPortNumber = typeof address === 'object' && address ? address.port : tls.port;
    }
  }

  private async serve(server: Server, bind: string, port: number, name: 'TCP' | 'TLS'): Promise<Server> {
    server.maxConnections = MAX_TCP_CONNECTIONS;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, bind, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      // Whatever is already listening is closed by close(); the caller reports the failed start.
      throw new Error(`SIP ${name} cannot listen on ${bind}:${port}: ${errorMessage(error)}`);
    }
    server.on('error', (error) => this.logger.error({ msg: `SIP ${name} server error`, err: errorMessage(error) }));
    return server;
  }

  send(data: Buffer, peer: SipPeer): void {
    if (peer.transport === 'UDP') {
      this.udp?.send(data, peer.port, peer.address, (error) => {
        if (error) this.logger.warn({ msg: 'SIP UDP send failed', peer, err: errorMessage(error) });
      });
      return;
    }
    const key = peerKey(peer);
    let socket = this.connections.get(key);
    if (!socket || socket.destroyed) {
      socket =
        peer.transport === 'TLS' ? this.connectTls(peer) : createConnection({ host: peer.address, port: peer.port });
      this.adopt(socket, peer.transport, peer);
    }
    socket.write(data);
  }

  private connectTls(peer: SipPeer): TLSSocket {
    return tlsConnect({
      host: peer.address,
      port: peer.port,
      // SNI and the certificate check name the host we dialled; an IP address is checked against the IP SANs.
      ...(isIP(peer.address) ? {} : { servername: peer.address }),
      ...(this.tlsCa ? { ca: this.tlsCa } : {}),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    });
  }

  private adopt(socket: Socket, transport: 'TCP' | 'TLS', known?: SipPeer): void {
    const peer: SipPeer = known ?? {
      transport,
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
    };
    const key = peerKey(peer);
    this.connections.set(key, socket);
    const framer = new SipStreamFramer();
    socket.setTimeout(TCP_IDLE_MS);
    socket.on('timeout', () => socket.destroy());
    socket.on('data', (chunk) => {
      let frames: Buffer[];
      try {
        frames = framer.push(chunk);
      } catch (error) {
        // A broken stream cannot be resynchronised: report it and drop the connection.
        this.onFramingError(peer, error instanceof SipParseError ? error : new Error(errorMessage(error)));
        socket.destroy();
        return;
      }
      for (const frame of frames) this.onMessage(frame, peer);
    });
    socket.on('error', (error) =>
      this.logger.warn({ msg: `SIP ${transport} connection error`, peer, err: errorMessage(error) }),
    );
    socket.on('close', () => {
      if (this.connections.get(key) === socket) this.connections.delete(key);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.connections.values()) socket.destroy();
    this.connections.clear();
    await Promise.all([
      new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.tls ? this.tls.close(() => resolve()) : resolve())),
    ]);
    this.udp = null;
    this.tcp = null;
    this.tls = null;
  }
}

function peerKey(peer: SipPeer): string {
  return `${peer.transport}|${peer.address}|${peer.port}`;
}
