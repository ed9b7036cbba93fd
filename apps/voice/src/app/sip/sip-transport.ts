// SIP over UDP and TCP on one port: datagrams and framed TCP messages in, bytes out to a peer. TCP connections
// are kept by peer address so responses and in-dialog requests reuse them (RFC 3261 §18); idle ones are closed.
import { Logger } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import { SipParseError, SipStreamFramer, type SipPeer } from '@sovren/sip';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net';

export type InboundHandler = (data: Buffer, peer: SipPeer) => void;
export type FramingErrorHandler = (peer: SipPeer, error: Error) => void;

const TCP_IDLE_MS = 5 * 60_000;
const MAX_TCP_CONNECTIONS = 1024;

export class SipTransport {
  private readonly logger = new Logger(SipTransport.name);
  private udp: UdpSocket | null = null;
  private tcp: Server | null = null;
  private readonly connections = new Map<string, Socket>();
  private port = 0;

  constructor(
    private readonly onMessage: InboundHandler,
    private readonly onFramingError: FramingErrorHandler,
  ) {}

  get localPort(): number {
    return this.port;
  }

  async listen(bind: string, port: number, withTcp: boolean): Promise<void> {
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
    if (!withTcp) return;
    const tcp = createServer((socket) => this.adopt(socket));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.port, bind, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (error) => this.logger.error({ msg: 'SIP TCP server error', err: errorMessage(error) }));
    this.tcp = tcp;
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
      socket = createConnection({ host: peer.address, port: peer.port });
      this.adopt(socket, peer);
    }
    socket.write(data);
  }

  private adopt(socket: Socket, known?: SipPeer): void {
    const peer: SipPeer = known ?? {
      transport: 'TCP',
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
      this.logger.warn({ msg: 'SIP TCP connection error', peer, err: errorMessage(error) }),
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
    ]);
    this.udp = null;
    this.tcp = null;
  }
}

function peerKey(peer: SipPeer): string {
  return `${peer.address}|${peer.port}`;
}
