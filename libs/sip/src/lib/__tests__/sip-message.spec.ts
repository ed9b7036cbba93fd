import {
  SipParseError,
  parseNameAddr,
  parseSipMessage,
  parseSipUri,
  parseVia,
  serializeSipMessage,
  SipStreamFramer,
} from '../../index';

const INVITE = [
  'INVITE sip:+15551230000@10.0.0.1:5060 SIP/2.0',
  'Via: SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK776asdhds;rport',
  'v: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKabc, SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bKdef',
  'Max-Forwards: 70',
  'To: <sip:+15551230000@10.0.0.1>',
  'f: "Alice, A." <sip:+15559870000@203.0.113.5>;tag=1928301774',
  'i: a84b4c76e66710@pc33',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@203.0.113.5:5060>',
  'Subject: folded',
  '  continuation',
  'Content-Type: application/sdp',
  'Content-Length: 4',
  '',
  'v=0\r\nignored-trailing',
].join('\r\n');

describe('parseSipMessage', () => {
  it('reads a request with compact forms, folded lines, comma-joined Vias and a bounded body', () => {
    const message = parseSipMessage(Buffer.from(INVITE));
    expect(message.kind).toBe('request');
    if (message.kind !== 'request') return;
    expect(message.method).toBe('INVITE');
    expect(message.headers.getAll('Via')).toHaveLength(3);
    expect(parseVia(message.headers.getAll('Via')[2])).toMatchObject({
      transport: 'TCP',
      host: '2001:db8::1',
      port: 5070,
    });
    expect(message.headers.get('call-id')).toBe('a84b4c76e66710@pc33');
    expect(message.headers.get('Subject')).toBe('folded continuation');
    expect(parseNameAddr(message.headers.get('From') ?? '')).toMatchObject({
      displayName: 'Alice, A.',
      uri: 'sip:+15559870000@203.0.113.5',
    });
    expect(message.body.toString()).toBe('v=0\r');
  });

  it('round-trips through the serializer with a recomputed Content-Length', () => {
    const message = parseSipMessage(Buffer.from(INVITE));
    const again = parseSipMessage(serializeSipMessage(message));
    expect(again.headers.list()).toEqual(message.headers.list());
    expect(again.body).toEqual(message.body);
  });

  it('reads a response status line', () => {
    const text = INVITE.replace('INVITE sip:+15551230000@10.0.0.1:5060 SIP/2.0', 'SIP/2.0 486 Busy Here');
    const message = parseSipMessage(Buffer.from(text));
    expect(message).toMatchObject({ kind: 'response', status: 486, reason: 'Busy Here' });
  });

  it.each([
    ['no blank line', 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1'],
    ['bad version', INVITE.replace('SIP/2.0\r\nVia', 'SIP/3.0\r\nVia')],
    ['missing Call-ID', INVITE.replace('i: a84b4c76e66710@pc33\r\n', '')],
    ['CSeq method mismatch', INVITE.replace('314159 INVITE', '314159 BYE')],
    ['Content-Length too big', INVITE.replace('Content-Length: 4', 'Content-Length: 400')],
    ['negative Content-Length', INVITE.replace('Content-Length: 4', 'Content-Length: -1')],
    ['broken Via', INVITE.replace('SIP/2.0/UDP 203.0.113.5:5060', 'SIP/2.0 203.0.113.5:99999')],
    ['header without colon', INVITE.replace('Max-Forwards: 70', 'Max-Forwards 70')],
    ['unterminated From', INVITE.replace('<sip:+15559870000@203.0.113.5>', '<sip:+15559870000@203.0.113.5')],
    ['bad status', 'SIP/2.0 999 Nope\r\n\r\n'],
    ['NUL byte', INVITE.replace('Max-Forwards', 'Max\0Forwards')],
  ])('rejects %s with a SipParseError', (_what, text) => {
    expect(() => parseSipMessage(Buffer.from(text))).toThrow(SipParseError);
  });

  it('requires Content-Length on stream transports', () => {
    const text = INVITE.replace('Content-Length: 4\r\n', '');
    expect(() => parseSipMessage(Buffer.from(text), { stream: true })).toThrow(/Content-Length/);
  });
});

describe('URIs', () => {
  it('parses user, host, port and parameters', () => {
    expect(parseSipUri('sip:%2B1555@example.com:5080;transport=tcp')).toMatchObject({
      scheme: 'sip',
      user: '+1555',
      host: 'example.com',
      port: 5080,
    });
    expect(() => parseSipUri('http://x')).toThrow(SipParseError);
  });
});

describe('SipStreamFramer', () => {
  it('cuts messages split and joined arbitrarily across chunks', () => {
    const one = Buffer.from(INVITE.replace('v=0\r\nignored-trailing', 'abcd'));
    const wire = Buffer.concat([Buffer.from('\r\n\r\n'), one, one]);
    const framer = new SipStreamFramer();
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i += 7) out.push(...framer.push(wire.subarray(i, i + 7)));
    expect(out).toHaveLength(2);
    expect(parseSipMessage(out[1], { stream: true }).headers.get('CSeq')).toBe('314159 INVITE');
  });

  it('refuses an endless header section', () => {
    const framer = new SipStreamFramer();
    expect(() => framer.push(Buffer.alloc(70_000, 'a'))).toThrow(SipParseError);
  });
});
