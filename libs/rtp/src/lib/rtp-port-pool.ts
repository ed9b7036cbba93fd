// A UDP port pair per call from a configured range: even port for RTP, the next odd one for RTCP (RFC 3550 §11).
import { createSocket, type Socket } from 'node:dgram';

export interface RtpPortPoolOptions {
  min: number;
  max: number;
  bindAddress: string;
}

export interface RtpSocketPair {
  rtpPort: number;
  rtp: Socket;
  rtcp: Socket;
  /** Closes both sockets and returns the pair to the pool; idempotent. */
  release(): Promise<void>;
}

export class RtpPortsExhaustedError extends Error {}

export interface RtpPortPool {
  readonly bindAddress: string;
  /** Pairs the range can hold. */
  readonly capacity: number;
  readonly inUse: number;
  /** Binds the next free pair; ports taken by other processes are skipped. */
  allocate(): Promise<RtpSocketPair>;
}

export function createRtpPortPool(options: RtpPortPoolOptions): RtpPortPool {
  return new UdpRtpPortPool(options);
}

class UdpRtpPortPool implements RtpPortPool {
  readonly bindAddress: string;
  readonly capacity: number;
  private readonly first: number;
  private readonly used = new Set<number>();
  private next = 0;

  constructor(options: RtpPortPoolOptions) {
    const first = options.min % 2 === 0 ? options.min : options.min + 1;
    if (!Number.isInteger(options.min) || !Number.isInteger(options.max) || options.min < 1024 || options.max > 65535)
      throw new RangeError(`RTP port range ${options.min}-${options.max} must lie within 1024-65535`);
    this.capacity = Math.floor((options.max - first + 1) / 2);
    if (this.capacity < 1) throw new RangeError(`RTP port range ${options.min}-${options.max} holds no even/odd pair`);
    this.first = first;
    this.bindAddress = options.bindAddress;
  }

  get inUse(): number {
    return this.used.size;
  }

  async allocate(): Promise<RtpSocketPair> {
    for (let tried = 0; tried < this.capacity; tried++) {
      const index = this.next;
      this.next = (this.next + 1) % this.capacity;
      const port = this.first + 2 * index;
      if (this.used.has(port)) continue;
      this.used.add(port);
      const pair = await this.bindPair(port);
      if (pair) return pair;
      this.used.delete(port);
    }
    throw new RtpPortsExhaustedError(`no free RTP port pair in ${this.first}-${this.first + 2 * this.capacity - 1}`);
  }

  private async bindPair(port: number): Promise<RtpSocketPair | null> {
    const family = this.bindAddress.includes(':') ? 'udp6' : 'udp4';
    const rtp = await bindSocket(family, this.bindAddress, port);
    if (!rtp) return null;
    const rtcp = await bindSocket(family, this.bindAddress, port + 1);
    if (!rtcp) {
      await closeSocket(rtp);
      return null;
    }
    let released: Promise<void> | null = null;
    return {
      rtpPort: port,
      rtp,
      rtcp,
      release: () => {
        released ??= Promise.all([closeSocket(rtp), closeSocket(rtcp)]).then(() => {
          this.used.delete(port);
        });
        return released;
      },
    };
  }
}

function bindSocket(type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = createSocket({ type, reuseAddr: false });
    const onError = () => {
      // Taken by someone else (EADDRINUSE) or not bindable: the caller moves on to the next pair.
      socket.close();
      resolve(null);
    };
    socket.once('error', onError);
    socket.bind(port, address, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch (error: unknown) {
      // Already closed is what we wanted; anything else is a real fault.
      if ((error as NodeJS.ErrnoException).code !== 'ERR_SOCKET_DGRAM_NOT_RUNNING') throw error;
      resolve();
    }
  });
}
