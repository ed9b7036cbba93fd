// The hostile edge in front of the SIP user agent: who may talk to us, how fast, and what happens to garbage.
// Untrusted sources get 403 (built from the raw bytes, no transaction, no dialog, no row); a flood from one
// address is dropped; malformed messages from a trusted source get 400 when they carry enough to answer.
import { SipParseError, parseSipMessage, serializeSipMessage, type SipMessage, type SipPeer } from '@sovren/sip';

import { NetworkMatcher } from './network-matcher';

export type RefusalReason = 'untrusted' | 'rate_limited' | 'malformed' | 'too_large';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['untrusted', 'rate_limited', 'malformed', 'too_large'];

export interface EdgeVerdict {
  /** The parsed message to hand to the transactions, or null when refused. */
  message: SipMessage | null;
  /** Bytes to send back to the source at once (a 403 or 400), if any. */
  reply: Buffer | null;
  refused: RefusalReason | null;
}

const MAX_TRACKED_SOURCES = 10_000;

/** Token bucket per source address, refilled each second; the table is bounded so a spoofed sweep cannot grow it. */
class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly perSecond: number) {}

  allow(address: string, now = Date.now()): boolean {
    let bucket = this.buckets.get(address);
    if (!bucket) {
      if (this.buckets.size >= MAX_TRACKED_SOURCES) this.evict(now);
      bucket = { tokens: this.perSecond, at: now };
      this.buckets.set(address, bucket);
    }
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private evict(now: number): void {
    for (const [address, bucket] of this.buckets) {
      if (now - bucket.at > 1000) this.buckets.delete(address);
    }
    if (this.buckets.size >= MAX_TRACKED_SOURCES) this.buckets.clear();
  }
}

export class SipEdge {
  private readonly trusted: NetworkMatcher;
  private readonly limiter: SourceRateLimiter;

  constructor(options: { trustedNetworks: string; ratePerSecond: number }) {
    this.trusted = new NetworkMatcher(options.trustedNetworks);
    this.limiter = new SourceRateLimiter(options.ratePerSecond);
  }

  isTrusted(address: string): boolean {
    return this.trusted.contains(address);
  }

  inspect(data: Buffer, peer: SipPeer): EdgeVerdict {
    if (!this.limiter.allow(peer.address)) return { message: null, reply: null, refused: 'rate_limited' };
    const trusted = this.trusted.contains(peer.address);
    if (data.length > 65_535) return { message: null, reply: null, refused: 'too_large' };
    let message: SipMessage;
    try {
      message = parseSipMessage(data, { stream: peer.transport !== 'UDP' });
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
      // Answer 400 only to a trusted peer, and only when the bytes carry what a response needs.
      const reply = trusted ? bestEffortResponse(data, 400, 'Bad Request', error.message) : null;
      return { message: null, reply, refused: trusted ? 'malformed' : 'untrusted' };
    }
    if (!trusted) {
      // Responses and ACKs are never answered; requests get 403 with no state kept.
      const reply =
        message.kind === 'request' && message.method !== 'ACK' ? serializeSipMessage(forbidden(message)) : null;
      return { message: null, reply, refused: 'untrusted' };
    }
    return { message, reply: null, refused: null };
  }
}

function forbidden(request: SipMessage & { kind: 'request' }): SipMessage {
  const headers = request.headers.clone();
  for (const [name] of request.headers.list()) {
    if (!['via', 'from', 'to', 'call-id', 'cseq'].includes(name.toLowerCase())) headers.remove(name);
  }
  return { kind: 'response', status: 403, reason: 'Forbidden', headers, body: Buffer.alloc(0) };
}

/**
 * A response to bytes our parser refused: copy the five headers verbatim when they can be found, else nothing. What
 * was wrong goes in a Warning (RFC 3261 §20.43) after them, not in the reason phrase: some peers (SIPp) find the
 * CSeq by the first "CSeq" in the message.
 */
function bestEffortResponse(data: Buffer, status: number, reason: string, detail: string): Buffer | null {
  const head = data.toString('latin1', 0, Math.min(data.length, 8192));
  if (head.startsWith('SIP/')) return null; // never answer a response
  if (/^ACK /.test(head)) return null;
  const lines = head.split(/\r\n/);
  const pick = (names: string[]): string[] =>
    lines.filter((line) => names.some((n) => line.toLowerCase().startsWith(`${n}:`)) && !/[\0]/.test(line));
  const via = pick(['via', 'v']);
  const from = pick(['from', 'f']);
  const to = pick(['to', 't']);
  const callId = pick(['call-id', 'i']);
  const cseq = pick(['cseq']);
  if (via.length === 0 || from.length !== 1 || to.length !== 1 || callId.length !== 1 || cseq.length !== 1) return null;
  const safeDetail = detail.replace(/[^\x20-\x7e]|["\\]/g, '?').slice(0, 100);
  const out = [
    `SIP/2.0 ${status} ${reason}`,
    ...via,
    from[0],
    to[0],
    callId[0],
    cseq[0],
    `Warning: 399 sovren "${safeDetail}"`,
    'Content-Length: 0',
    '',
    '',
  ];
  return Buffer.from(out.join('\r\n'), 'latin1');
}
