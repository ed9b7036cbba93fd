// The native packet sender (native/src/media/rtp-pacer.h, in the engine addon): a thread that sleeps to each
// packet's due time and writes it to the call's socket. The event loop builds packets one frame ahead and hands them
// over, so garbage collection or a burst of other calls' work no longer shows on the wire. Without the addon (not
// built), sessions send from the event loop as before and say so once.
import type { Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import { loadEngineAddon } from '@sovren/engine';

export interface NativeRtpPacerStats {
  sent: number;
  sendErrors: number;
  queued: number;
  latenessP99Ms: number;
  latenessMaxMs: number;
  lastErrno: number;
}

interface NativeRtpPacer {
  open(fd: number, address: string, port: number): number;
  setTarget(id: number, address: string, port: number): void;
  enqueue(id: number, dueMs: number, bytes: Uint8Array): void;
  flush(id: number): number;
  close(id: number): void;
  stats(id: number): NativeRtpPacerStats;
  realtime(): boolean;
}

interface NativeRtpPacerClass {
  new (): NativeRtpPacer;
  nowMs(): number;
  readonly prototype: NativeRtpPacer;
}

/** How far ahead of its wire time a packet is built and handed to the pacer (one 20 ms frame). */
export const PACER_LEAD_MS = 20;

/** One paced stream: a socket and where its packets go. */
export interface PacedSender {
  /** `dueMs` on performance.now()'s time base. */
  send(datagram: Uint8Array, dueMs: number): void;
  setTarget(address: string, port: number): void;
  /** Takes back the packets not sent yet; returns how many (the newest ones handed over). */
  flush(): number;
  stats(): NativeRtpPacerStats;
  /** Stops using the socket (call before closing it); idempotent. Stats stay readable. */
  close(): void;
}

export class RtpPacer {
  /** CLOCK_MONOTONIC ms minus performance.now(): both count from the same clock, from different origins. */
  private readonly offsetMs: number;

  constructor(
    private readonly native: NativeRtpPacer,
    nowMs: () => number,
  ) {
    this.offsetMs = nowMs() - performance.now();
  }

  /** A stream on `socket` (bound): throws when Node does not show the socket's descriptor. */
  open(socket: Socket, address: string, port: number): PacedSender {
    const fd = udpSocketFd(socket);
    if (fd === null) throw new Error('this Node version does not expose a UDP socket descriptor');
    const id = this.native.open(fd, address, port);
    let closedStats: NativeRtpPacerStats | null = null;
    return {
      send: (datagram, dueMs) => this.native.enqueue(id, dueMs + this.offsetMs, datagram),
      setTarget: (a, p) => {
        if (!closedStats) this.native.setTarget(id, a, p);
      },
      flush: () => (closedStats ? 0 : this.native.flush(id)),
      stats: () => closedStats ?? this.native.stats(id),
      close: () => {
        if (closedStats) return;
        closedStats = this.native.stats(id);
        this.native.close(id);
      },
    };
  }
}

let shared: RtpPacer | null | undefined;
const logger = new Logger('RtpPacer');

/** The process's pacer thread, started on first use; null (logged once) when the engine addon is not available. */
export function sharedRtpPacer(): RtpPacer | null {
  if (shared !== undefined) return shared;
  try {
    const addon = loadEngineAddon() as unknown as { RtpPacer?: NativeRtpPacerClass };
    if (!addon.RtpPacer) throw new Error('the engine addon has no RtpPacer (rebuild it: npx nx run native:build)');
    const native = new addon.RtpPacer();
    shared = new RtpPacer(native, () => (addon.RtpPacer as NativeRtpPacerClass).nowMs());
    if (!native.realtime())
      logger.warn(
        'RTP pacer thread runs at normal priority (no real-time scheduling allowed: LimitRTPRIO=10 in the unit allows it)',
      );
  } catch (error: unknown) {
    logger.warn(
      `native RTP pacer unavailable, packets are paced by the event loop: ${error instanceof Error ? error.message : String(error)}`,
    );
    shared = null;
  }
  return shared;
}

/**
 * The descriptor under a bound dgram socket. Node has no public accessor: this reads the libuv handle's `fd` (what
 * cluster uses), reached through the socket's internal state; null if a Node version moves it.
 */
export function udpSocketFd(socket: Socket): number | null {
  const stateKey = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (!stateKey) return null;
  const state = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[stateKey];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}
