import {
  answerDirection,
  buildDigestAuthorization,
  buildSdp,
  negotiateAudio,
  parseDigestChallenge,
  parseSdp,
  SipParseError,
  verifyDigestAuthorization,
} from '../../index';

const OFFER = [
  'v=0',
  'o=- 123 1 IN IP4 198.51.100.7',
  's=-',
  'c=IN IP4 198.51.100.7',
  't=0 0',
  'm=audio 40000 RTP/AVP 9 8 0 101',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  'm=video 40002 RTP/AVP 96',
  'a=sendonly',
  '',
].join('\r\n');

describe('SDP offer/answer', () => {
  it('chooses the first G.711 codec in the offer order and telephone-event', () => {
    expect(negotiateAudio(parseSdp(OFFER))).toEqual({
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
      remoteAddress: '198.51.100.7',
      remotePort: 40000,
      remoteDirection: 'sendrecv',
      onHold: false,
    });
  });

  it('returns null when no G.711 codec is offered', () => {
    expect(negotiateAudio(parseSdp(OFFER.replace('9 8 0 101', '9 101')))).toBeNull();
  });

  it('sees hold in sendonly and answers recvonly', () => {
    const held = negotiateAudio(parseSdp(OFFER.replace('a=sendrecv', 'a=sendonly')));
    expect(held?.onHold).toBe(true);
    expect(answerDirection('sendonly')).toBe('recvonly');
    expect(answerDirection('inactive')).toBe('inactive');
  });

  it('builds an SDP our parser reads back', () => {
    const sdp = buildSdp({
      sessionId: '42',
      version: 2,
      address: '203.0.113.9',
      port: 30000,
      codecs: [{ payloadType: 0, name: 'PCMU' }],
      telephoneEventPayloadType: 101,
      direction: 'sendrecv',
    });
    expect(negotiateAudio(parseSdp(sdp))).toMatchObject({ codec: 'PCMU', remotePort: 30000 });
  });

  it.each([['v=1\r\n'], ['v=0\r\nm=audio x RTP/AVP 0\r\n'], ['v=0\r\nxx\r\n'], ['v=0\r\ns=-\r\n']])(
    'rejects malformed SDP %j',
    (text) => {
      expect(() => parseSdp(text)).toThrow(SipParseError);
    },
  );
});

describe('digest', () => {
  it('answers an MD5 qop=auth challenge with the RFC 2617 response', () => {
    const challenge = parseDigestChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    const value = buildDigestAuthorization(
      challenge,
      { username: 'Mufasa', password: 'Circle Of Life' },
      'GET',
      '/dir/index.html',
      1,
      '0a4f113b',
    );
    // RFC 2617 §3.5 example response.
    expect(value).toContain('response="6629fae49393a05397450978507c4ef1"');
    expect(
      verifyDigestAuthorization(
        value,
        { username: 'Mufasa', password: 'Circle Of Life' },
        'GET',
        'testrealm@host.com',
        'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      ),
    ).toBe(true);
    expect(
      verifyDigestAuthorization(
        value,
        { username: 'Mufasa', password: 'wrong' },
        'GET',
        'testrealm@host.com',
        'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      ),
    ).toBe(false);
  });

  it('rejects a challenge without a nonce', () => {
    expect(() => parseDigestChallenge('Digest realm="x"')).toThrow(SipParseError);
  });
});
