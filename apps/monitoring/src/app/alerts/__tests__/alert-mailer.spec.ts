import { AlertV1 } from '@sovren/messaging';
import { createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';

import { AlertMailer } from '../alert-mailer';

const firing: AlertV1 = {
  v: 1,
  fingerprint: 'ServiceDown:billing',
  rule: 'ServiceDown',
  state: 'firing',
  severity: 'critical',
  service: 'billing',
  summary: 'billing is down: no heartbeat for 16 s (3 missed)',
  startsAt: '2026-01-01T00:00:10.000Z',
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function smtpServer(received: string[], options: { rejectFirst?: number } = {}): SMTPServer {
  let rejections = options.rejectFirst ?? 0;
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (rejections > 0) {
          rejections -= 1;
          const error = Object.assign(new Error('mailbox busy, try later'), { responseCode: 451 });
          callback(error);
          return;
        }
        received.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
}

const listen = (server: SMTPServer, port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
const close = (server: SMTPServer) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('AlertMailer (real SMTP server)', () => {
  it('mails a firing alert to every operator with the rule, service and state in the subject', async () => {
    const received: string[] = [];
    const server = smtpServer(received);
    const port = await freePort();
    await listen(server, port);
    const mailer = new AlertMailer({ host: '127.0.0.1', port, from: 'monitoring@sovren.test', recipients: ['a@ops.test', 'b@ops.test'], origin: 'gpu-host-1 (test)' });
    try {
      mailer.send(firing);
      await mailer.queue.whenIdle();
      expect(received).toHaveLength(1);
      expect(received[0]).toContain('Subject: [FIRING critical] SOVREN ServiceDown billing on gpu-host-1 (test)');
      expect(received[0]).toMatch(/To: a@ops\.test, b@ops\.test/);
      expect(received[0]).toContain('X-Sovren-Alert: ServiceDown:billing');
      expect(received[0]).toContain('billing is down: no heartbeat for 16 s (3 missed)');
    } finally {
      mailer.close();
      await close(server);
    }
  });

  it('retries a mail the server refuses, without blocking the caller, and delivers it', async () => {
    const received: string[] = [];
    const server = smtpServer(received, { rejectFirst: 1 });
    const port = await freePort();
    await listen(server, port);
    const mailer = new AlertMailer({ host: '127.0.0.1', port, from: 'monitoring@sovren.test', recipients: ['a@ops.test'], origin: 'h' });
    try {
      mailer.send({ ...firing, state: 'resolved', endsAt: '2026-01-01T00:01:00.000Z' });
      expect(mailer.queue.pending).toBe(1); // send() returned before the mail went out
      await mailer.queue.whenIdle();
      expect(received).toHaveLength(1);
      expect(received[0]).toContain('Subject: [RESOLVED] SOVREN ServiceDown billing on h');
    } finally {
      mailer.close();
      await close(server);
    }
  });

  it('keeps retrying while no SMTP server listens and delivers once one starts', async () => {
    const port = await freePort();
    const mailer = new AlertMailer({ host: '127.0.0.1', port, from: 'monitoring@sovren.test', recipients: ['a@ops.test'], origin: 'h' });
    const received: string[] = [];
    const server = smtpServer(received);
    try {
      mailer.send(firing);
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toHaveLength(0);
      await listen(server, port);
      await mailer.queue.whenIdle();
      expect(received).toHaveLength(1);
    } finally {
      mailer.close();
      await close(server);
    }
  });

  it('sends nothing when no operator is configured', async () => {
    const mailer = new AlertMailer({ host: '127.0.0.1', port: 1, from: 'm@sovren.test', recipients: [], origin: 'h' });
    mailer.send(firing);
    expect(mailer.queue.pending).toBe(0);
    mailer.close();
  });
});
