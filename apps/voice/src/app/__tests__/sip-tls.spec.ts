// SIP over TLS (RFC 3261 §26.2, RFC 5922): with a certificate configured the voice service serves TLS on its own
// port — a carrier that verifies our certificate gets OPTIONS answered and places a whole call (INVITE → 200 → ACK →
// BYE) whose Contact and Via name TLS — and our outbound calls to a `;transport=tls` proxy go over TLS, verifying
// the carrier's certificate against the configured CA. The peer here is a small TLS SIP client/server written with
// Node's tls module and our SIP parser; no SIPp, whose Debian build has no TLS.
import { SipStreamFramer, parseSipMessage, type SipMessage, type SipResponse } from '@sovren/sip';
import { eventually, freePort } from '@sovren/testing';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from './support/voice-test-environment';

jest.setTimeout(90_000);

/** A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** SIP messages framed off one TLS stream, awaited in order. */
class SipStream {
  private readonly framer = new SipStreamFramer();
  private readonly queue: SipMessage[] = [];
  private waiter: (() => void) | null = null;

  constructor(readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.framer.push(chunk)) this.queue.push(parseSipMessage(frame, { stream: true }));
      this.waiter?.();
    });
  }

  async next(what: string, timeoutMs = 10_000): Promise<SipMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.queue.shift();
      if (message) return message;
      if (Date.now() > deadline) throw new Error(`no SIP message (${what}) within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** The next final response (skipping 1xx). */
  async final(what: string): Promise<SipResponse> {
    for (;;) {
      const message = await this.next(what);
      if (message.kind === 'response' && message.status >= 200) return message;
    }
  }

  send(text: string, body = ''): void {
    const head = text
      .trim()
      .split('\n')
      .map((line) => line.trim())
      .join('\r\n');
    this.socket.write(`${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
}

describe('voice SIP over TLS', () => {
  let env: VoiceTestEnvironment;
  let dir: string;
  let ours: { cert: string; key: string };
  let carrierCert: { cert: string; key: string };
  let tlsPort: number;
  let carrierPort: number;
  let carrier: Server | null = null;
  const sockets: TLSSocket[] = [];
  /** The carrier's side of our outbound TLS connections. */
  const received: SipStream[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sovren-sip-tls-'));
    ours = makeCertificate(dir, 'sovren');
    carrierCert = makeCertificate(dir, 'carrier');
    tlsPort = await freePort();
    carrierPort = await freePort();
    env = await startVoiceTestEnvironment({
      SOVREN_VOICE_SIP_TLS_CERT_FILE: ours.cert,
      SOVREN_VOICE_SIP_TLS_KEY_FILE: ours.key,
      SOVREN_VOICE_SIP_TLS_PORT: String(tlsPort),
      // Our outbound TLS connections trust only the carrier's (self-signed) certificate.
      SOVREN_VOICE_SIP_TLS_CA_FILE: carrierCert.cert,
      SOVREN_VOICE_SIP_OUTBOUND_PROXY: `127.0.0.1:${carrierPort};transport=tls`,
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    // Our connection to the carrier stays open (idle timeout); close() waits for every connection to end.
    for (const stream of received) stream.socket.destroy();
    await new Promise<void>((resolve) => (carrier ? carrier.close(() => resolve()) : resolve()));
    await env?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A carrier connection to our TLS port that verifies our certificate. */
  async function dial(): Promise<SipStream> {
    const socket = connect({ host: '127.0.0.1', port: tlsPort, ca: readFileSync(ours.cert) });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    return new SipStream(socket);
  }

  it('answers OPTIONS over a verified TLS connection', async () => {
    const sip = await dial();
    expect(sip.socket.authorized).toBe(true);
    const { port } = sip.socket.address() as { port: number };
    sip.send(`
      OPTIONS sip:+15551230000@127.0.0.1:${tlsPort};transport=tls SIP/2.0
      Via: SIP/2.0/TLS 127.0.0.1:${port};branch=z9hG4bK-tls-options
      From: <sip:carrier@127.0.0.1>;tag=tls1
      To: <sip:+15551230000@127.0.0.1>
      Call-ID: tls-options-1@127.0.0.1
      CSeq: 1 OPTIONS
      Max-Forwards: 70`);
    const answer = await sip.final('OPTIONS answer');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('Via')).toMatch(/^SIP\/2\.0\/TLS /);
  });

  it('takes a whole call over TLS: INVITE → 200 (Contact on the TLS port) → ACK → BYE, and closes the record', async () => {
    env.seedNumber('+15551234567', { mediaApp: 'echo' });
    const sip = await dial();
    const { port } = sip.socket.address() as { port: number };
    const from = `From: <sip:+15559870000@127.0.0.1>;tag=tlscall`;
    const callId = 'Call-ID: tls-call-1@127.0.0.1';
    const sdp = [
      'v=0',
      'o=carrier 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=audio ${await freePort()} RTP/AVP 0 101`,
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      '',
    ].join('\r\n');
    sip.send(
      `
      INVITE sip:+15551234567@127.0.0.1:${tlsPort};transport=tls SIP/2.0
      Via: SIP/2.0/TLS 127.0.0.1:${port};branch=z9hG4bK-tls-invite
      ${from}
      To: <sip:+15551234567@127.0.0.1>
      ${callId}
      CSeq: 1 INVITE
      Contact: <sip:carrier@127.0.0.1:${port};transport=tls>
      Max-Forwards: 70
      Content-Type: application/sdp`,
      sdp,
    );
    const ok = await sip.final('INVITE answer');
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toMatch(/m=audio \d+ RTP\/AVP 0 101/);
    const contact = ok.headers.get('Contact') ?? '';
    expect(contact).toContain(`:${tlsPort};transport=tls`);
    const to = ok.headers.get('To') ?? '';
    sip.send(`
      ACK sip:+15551234567@127.0.0.1:${tlsPort};transport=tls SIP/2.0
      Via: SIP/2.0/TLS 127.0.0.1:${port};branch=z9hG4bK-tls-ack
      ${from}
      To: ${to}
      ${callId}
      CSeq: 1 ACK
      Max-Forwards: 70`);
    await eventually('the TLS call answered', async () => {
      const [call] = await env.query<{ state: string }>('SELECT "state" FROM "voice_calls" WHERE "to_number" = $1', [
        '+15551234567',
      ]);
      return call?.state === 'answered';
    });
    sip.send(`
      BYE sip:+15551234567@127.0.0.1:${tlsPort};transport=tls SIP/2.0
      Via: SIP/2.0/TLS 127.0.0.1:${port};branch=z9hG4bK-tls-bye
      ${from}
      To: ${to}
      ${callId}
      CSeq: 2 BYE
      Max-Forwards: 70`);
    expect((await sip.final('BYE answer')).status).toBe(200);
    await eventually('the TLS call record closed', async () => {
      const [call] = await env.query<{ state: string; hangup_cause: string }>(
        'SELECT "state", "hangup_cause" FROM "voice_calls" WHERE "to_number" = $1',
        ['+15551234567'],
      );
      return call?.state === 'ended' && call.hangup_cause === 'bye';
    });
  });

  it('places outbound calls over TLS to a carrier whose certificate the configured CA verifies', async () => {
    const server = createServer(
      { cert: readFileSync(carrierCert.cert), key: readFileSync(carrierCert.key) },
      (socket) => received.push(new SipStream(socket)),
    );
    carrier = server;
    await new Promise<void>((resolve) => server.listen(carrierPort, '127.0.0.1', () => resolve()));
    const applicationId = env.seedNumber('+15557770000');
    const placed = await fetch(`${env.voice.url}/api/v1/voice/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+15550002222', from: '+15557770000', application_id: applicationId }),
    });
    expect(placed.status).toBe(201);
    const id = ((await placed.json()) as { data: { id: string } }).data.id;
    await eventually('the carrier to receive a TLS connection', () => received.length > 0);
    const invite = await received[0].next('outbound INVITE');
    expect(invite).toMatchObject({ kind: 'request', method: 'INVITE' });
    expect(invite.headers.get('Via')).toMatch(new RegExp(`^SIP/2\\.0/TLS 127\\.0\\.0\\.1:${tlsPort};`));
    expect(invite.headers.get('Contact')).toContain(`:${tlsPort};transport=tls`);
    // Busy: the call ends as failed, and we ACK the final response on the same connection.
    const busy = [
      'SIP/2.0 486 Busy Here',
      `Via: ${invite.headers.get('Via')}`,
      `From: ${invite.headers.get('From')}`,
      `To: ${invite.headers.get('To')};tag=carrier-busy`,
      `Call-ID: ${invite.headers.get('Call-ID')}`,
      `CSeq: ${invite.headers.get('CSeq')}`,
    ].join('\n');
    received[0].send(busy);
    for (;;) {
      const message = await received[0].next('ACK of the 486');
      if (message.kind === 'request' && message.method === 'ACK') break;
    }
    await eventually('the outbound TLS call ended', async () => {
      const [call] = await env.query<{ state: string }>('SELECT "state" FROM "voice_calls" WHERE "id" = $1', [id]);
      return call?.state === 'ended';
    });
  });
});
