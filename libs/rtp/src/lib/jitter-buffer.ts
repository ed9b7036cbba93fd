// Reorders incoming RTP by sequence number and decides when a missing packet is lost (to be concealed): a gap is
// waited for until `depth` later packets have arrived or the oldest held packet has waited `maxDelayMs`. Playout
// starts the same way: once `depth` packets are held or the first has waited `maxDelayMs`.
import { seqDistance, seqNewer } from './rtp-packet';

export type JitterBufferEntry = { kind: 'audio'; payload: Uint8Array } | { kind: 'event' };

export type JitterBufferOutput =
  | { kind: 'audio'; sequenceNumber: number; payload: Uint8Array }
  | { kind: 'event'; sequenceNumber: number }
  | { kind: 'lost'; sequenceNumber: number };

export interface JitterBufferOptions {
  /** Packets held after a gap before it is declared lost (default 3: 60 ms of reordering). */
  depth?: number;
  /** Longest a held packet waits for a gap before it (default 60 ms). */
  maxDelayMs?: number;
  /** Longest run of losses concealed one by one; a longer gap is skipped (default 5 packets). */
  maxConcealed?: number;
}

interface Held {
  entry: JitterBufferEntry;
  arrivalMs: number;
}

/** A jump this large is a restarted stream, not loss. */
const RESYNC_DISTANCE = 1000;

export class JitterBuffer {
  /** Packets accepted into the buffer. */
  received = 0;
  /** Sequence numbers never received in time (concealed or skipped). */
  lost = 0;
  /** Packets that arrived after a later one: reordered (still used) or too late (dropped). */
  lateOrReordered = 0;
  /** Packets that arrived after their turn had passed, dropped. */
  tooLate = 0;
  duplicates = 0;

  private readonly depth: number;
  private readonly maxDelayMs: number;
  private readonly maxConcealed: number;
  private readonly held = new Map<number, Held>();
  private next: number | null = null;
  private highest: number | null = null;

  constructor(options: JitterBufferOptions = {}) {
    this.depth = options.depth ?? 3;
    this.maxDelayMs = options.maxDelayMs ?? 60;
    this.maxConcealed = options.maxConcealed ?? 5;
  }

  /** Number of packets waiting (for a gap before them to fill). */
  get size(): number {
    return this.held.size;
  }

  push(sequenceNumber: number, entry: JitterBufferEntry, arrivalMs: number): void {
    if (this.next !== null && Math.abs(seqDistance(sequenceNumber, this.next)) > RESYNC_DISTANCE) {
      this.held.clear();
      this.next = null;
      this.highest = null;
    }
    if (this.next !== null && seqDistance(sequenceNumber, this.next) < 0) {
      this.lateOrReordered++;
      this.tooLate++;
      return;
    }
    if (this.held.has(sequenceNumber)) {
      this.duplicates++;
      return;
    }
    if (this.highest !== null && seqNewer(this.highest, sequenceNumber)) this.lateOrReordered++;
    else this.highest = sequenceNumber;
    // Copy: the payload is a view into a datagram buffer the socket may reuse.
    const kept: JitterBufferEntry = entry.kind === 'audio' ? { kind: 'audio', payload: entry.payload.slice() } : entry;
    this.held.set(sequenceNumber, { entry: kept, arrivalMs });
    this.received++;
  }

  /** Releases what is ready at `nowMs`, in sequence order, with `lost` for each gap given up on. */
  pop(nowMs: number): JitterBufferOutput[] {
    const out: JitterBufferOutput[] = [];
    if (this.next === null) {
      // The stream's first packets may arrive out of order too: start from the earliest once the buffer is primed.
      if (this.held.size === 0) return out;
      const [firstSeq, firstArrival] = this.earliestHeld();
      if (this.held.size < this.depth && nowMs - firstArrival < this.maxDelayMs) return out;
      this.next = firstSeq;
    }
    while (this.next !== null && this.held.size > 0) {
      const seq: number = this.next;
      const held = this.held.get(seq);
      if (held) {
        this.held.delete(seq);
        out.push(
          held.entry.kind === 'audio'
            ? { kind: 'audio', sequenceNumber: seq, payload: held.entry.payload }
            : { kind: 'event', sequenceNumber: seq },
        );
        this.next = (seq + 1) & 0xffff;
        continue;
      }
      const [firstSeq, firstArrival] = this.earliestHeld();
      if (this.held.size < this.depth && nowMs - firstArrival < this.maxDelayMs) break;
      const gap = seqDistance(firstSeq, seq);
      const concealed = Math.min(gap, this.maxConcealed);
      for (let i = 0; i < concealed; i++) out.push({ kind: 'lost', sequenceNumber: (seq + i) & 0xffff });
      this.lost += gap;
      this.next = firstSeq;
    }
    return out;
  }

  private earliestHeld(): [number, number] {
    let bestSeq = -1;
    let bestDistance = Infinity;
    let arrival = Infinity;
    const next = this.next ?? this.highest ?? 0;
    for (const [seq, held] of this.held) {
      const distance = seqDistance(seq, next);
      if (distance < bestDistance) {
        bestDistance = distance;
        bestSeq = seq;
      }
      if (held.arrivalMs < arrival) arrival = held.arrivalMs;
    }
    return [bestSeq, arrival];
  }
}
