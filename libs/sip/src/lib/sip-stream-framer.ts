// Cuts a TCP byte stream into whole SIP messages by Content-Length (RFC 3261 §18.3), with a bounded buffer.
import { SIP_LIMITS, SipParseError } from './sip-message';

export class SipStreamFramer {
  private buffer: Buffer = Buffer.alloc(0);

  /** Adds bytes and returns every complete message now available; throws SipParseError on a broken frame. */
  push(chunk: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const messages: Buffer[] = [];
    for (;;) {
      // Keep-alive CRLFs between messages.
      let start = 0;
      while (start + 1 < this.buffer.length && this.buffer[start] === 0x0d && this.buffer[start + 1] === 0x0a) {
        start += 2;
      }
      if (start > 0) this.buffer = this.buffer.subarray(start);
      const headEnd = this.buffer.indexOf('\r\n\r\n', 0, 'latin1');
      if (headEnd < 0) {
        if (this.buffer.length > SIP_LIMITS.maxMessageBytes) throw new SipParseError('header section too large');
        return messages;
      }
      const head = this.buffer.toString('latin1', 0, headEnd);
      const match = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*(?:\r\n|$)/i.exec('\r\n' + head);
      if (!match) throw new SipParseError('Content-Length is mandatory on stream transports');
      const total = headEnd + 4 + Number(match[1]);
      if (total > SIP_LIMITS.maxMessageBytes) throw new SipParseError('message too large');
      if (this.buffer.length < total) return messages;
      messages.push(Buffer.from(this.buffer.subarray(0, total)));
      this.buffer = this.buffer.subarray(total);
    }
  }
}
