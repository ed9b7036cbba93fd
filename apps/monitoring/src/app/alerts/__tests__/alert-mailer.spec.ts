// AlertMailer through @sovren/mail's sender to a real SMTP server: what operators receive for a firing and a
// resolved alert, retries that never block the caller, and no mail without recipients.
import { MailSender, type MailSenderOptions } from '@sovren/mail';
import { AlertV1 } from '@sovren/messaging';
import { freePort, startSmtpServer, type LocalSmtpServer } from '@sovren/testing';

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

const senderOptions = (port: number): MailSenderOptions => ({
  host: '127.0.0.1',
  port,
  from: 'monitoring@sovren.test',
  maxAttempts: 20,
  firstRetryDelayMs: 20,
  maxRetryDelayMs: 200,
  maxPending: 100,
});

describe('AlertMailer (real SMTP server)', () => {
  let smtp: LocalSmtpServer | undefined;
  let sender: MailSender | undefined;

  afterEach(async () => {
    await sender?.close();
    await smtp?.close();
    sender = undefined;
    smtp = undefined;
  });

  it('mails a firing alert to every operator with the rule, service and state in the subject', async () => {
    smtp = await startSmtpServer();
    sender = new MailSender(senderOptions(smtp.port));
    const mailer = new AlertMailer(sender, { recipients: ['a@ops.test', 'b@ops.test'], origin: 'gpu-host-1 (test)' });
    mailer.send(firing);
    await sender.queue.whenIdle();
    expect(smtp.received).toHaveLength(1);
    const raw = smtp.received[0].raw;
    expect(raw).toContain('Subject: [FIRING critical] SOVREN ServiceDown billing on gpu-host-1 (test)');
    expect(raw).toMatch(/To: a@ops\.test, b@ops\.test/);
    expect(raw).toContain('X-Sovren-Alert: ServiceDown:billing');
    expect(raw).toContain('billing is down: no heartbeat for 16 s (3 missed)');
    expect(smtp.received[0].from).toBe('monitoring@sovren.test');
  });

  it('retries a mail the server refuses, without blocking the caller, and delivers it', async () => {
    smtp = await startSmtpServer({ rejectFirst: 1 });
    sender = new MailSender(senderOptions(smtp.port));
    const mailer = new AlertMailer(sender, { recipients: ['a@ops.test'], origin: 'h' });
    mailer.send({ ...firing, state: 'resolved', endsAt: '2026-01-01T00:01:00.000Z' });
    expect(sender.queue.pending).toBe(1); // send() returned before the mail went out
    await sender.queue.whenIdle();
    expect(smtp.rejected()).toBe(1);
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0].raw).toContain('Subject: [RESOLVED] SOVREN ServiceDown billing on h');
  });

  it('keeps retrying while no SMTP server listens and delivers once one starts', async () => {
    const port = await freePort();
    sender = new MailSender(senderOptions(port));
    const mailer = new AlertMailer(sender, { recipients: ['a@ops.test'], origin: 'h' });
    mailer.send(firing);
    await new Promise((r) => setTimeout(r, 300));
    smtp = await startSmtpServer({ port });
    await smtp.waitFor((m) => m.raw.includes('[FIRING critical]'), 10_000);
  });

  it('sends nothing when no operator is configured', async () => {
    sender = new MailSender(senderOptions(1));
    const mailer = new AlertMailer(sender, { recipients: [], origin: 'h' });
    mailer.send(firing);
    expect(sender.queue.pending).toBe(0);
  });
});
