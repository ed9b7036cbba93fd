// RFC 4733 telephone-events for DTMF: the 4-byte payload, a receiver that reports each digit once (end packets are
// sent three times), and the packet plan of a digit we send.
export const DTMF_EVENTS = '0123456789*#ABCD';

export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  /** In timestamp units (8 kHz). */
  duration: number;
}

export class DtmfParseError extends Error {}

export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.length < 4) throw new DtmfParseError(`telephone-event payload of ${payload.length} bytes`);
  return {
    event: payload[0],
    end: (payload[1] & 0x80) !== 0,
    volume: payload[1] & 0x3f,
    duration: (payload[2] << 8) | payload[3],
  };
}

export function serializeTelephoneEvent(event: TelephoneEvent): Uint8Array {
  const duration = Math.min(event.duration, 0xffff);
  return Uint8Array.of(
    event.event & 0xff,
    (event.end ? 0x80 : 0) | (event.volume & 0x3f),
    duration >> 8,
    duration & 0xff,
  );
}

/** The event code of a DTMF digit ('0'-'9', '*', '#', 'A'-'D'), or -1. */
export function dtmfEventCode(digit: string): number {
  return digit.length === 1 ? DTMF_EVENTS.indexOf(digit.toUpperCase()) : -1;
}

/** Turns the packets of one stream into digits: one report per event, at its end (or when the next one starts). */
export class DtmfReceiver {
  private current: { timestamp: number; event: number; duration: number; reported: boolean } | null = null;

  constructor(
    private readonly onDigit: (digit: string, durationMs: number) => void,
    private readonly clockRate = 8000,
  ) {}

  receive(timestamp: number, event: TelephoneEvent): void {
    if (event.event >= DTMF_EVENTS.length) return; // flash-hook and tones other than DTMF are not digits
    if (!this.current || this.current.timestamp !== timestamp) {
      this.finishCurrent();
      this.current = { timestamp, event: event.event, duration: event.duration, reported: false };
    }
    const current = this.current;
    if (current.reported) return; // the retransmitted end packets
    current.duration = Math.max(current.duration, event.duration);
    if (event.end) this.report(current);
  }

  /** An event whose end packets were all lost still counts once the stream moves on. */
  finishCurrent(): void {
    if (this.current && !this.current.reported) this.report(this.current);
  }

  private report(current: { event: number; duration: number; reported: boolean }): void {
    current.reported = true;
    this.onDigit(DTMF_EVENTS[current.event], Math.round((current.duration * 1000) / this.clockRate));
  }
}
