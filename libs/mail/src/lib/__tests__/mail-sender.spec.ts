// MailSender against a real SMTP server (smtp-server on loopback): delivery, retries with back-off while the
// relay refuses or is down, permanent refusals, the bounded queue, metrics and shutdown.
import { MetricsService } from '@sovren/observability';
import { freePort, startSmtpServer, type LocalSmtpServer } from '@sovren/testing';
import { SMTPServer } from 'smtp-server';

import { MailSender, type MailSenderOptions } from '../mail-sender';

const options = (port: number, overrides: Partial<MailSenderOptions> = {}): MailSenderOptions => ({
  host: '127.0.0.1',
  port,
  from: 'SOVREN <sovren@test.local>',
  maxAttempts: 5,
  firstRetryDelayMs: 20,
  maxRetryDelayMs: 100,
  maxPending: 10,
  ...overrides,
});

const metricLine = async (metrics: MetricsService, result: string): Promise<string | undefined> =>
  (await metrics.metrics())
    .split('\n')
    .find((line) => line.startsWith('sovren_mail_sent_total{') && line.includes(`result="${result}"`));

describe('MailSender (real SMTP server)', () => {
  let smtp: LocalSmtpServer | undefined;
  let sender: MailSender | undefined;

  afterEach(async () => {
    await sender?.close();
    await smtp?.close();
    sender = undefined;
    smtp = undefined;
  });

  it('delivers a message to every recipient with the configured sender, subject, text and headers', async () => {
    smtp = await startSmtpServer();
    const metrics = new MetricsService('auth');
    sender = new MailSender(options(smtp.port), metrics);
    expect(
      sender.send({
        kind: 'alert',
        to: ['a@ops.test', 'b@ops.test'],
        subject: 'Disk nearly full',
        text: 'disk at 95%',
        headers: { 'X-Sovren-Alert': 'DiskNearlyFull' },
      }),
    ).toBe(true);
    const mail = await smtp.waitFor((m) => m.raw.includes('Disk nearly full'), 10_000);
    expect(mail.from).toBe('sovren@test.local');
    expect(mail.to.sort()).toEqual(['a@ops.test', 'b@ops.test']);
    expect(mail.raw).toContain('X-Sovren-Alert: DiskNearlyFull');
    expect(mail.raw).toContain('disk at 95%');
    await sender.queue.whenIdle();
    expect(await metricLine(metrics, 'sent')).toBe(
      'sovren_mail_sent_total{kind="alert",result="sent",service="auth"} 1',
    );
  });

  it('returns before the mail goes out and retries a temporary refusal until it is delivered', async () => {
    smtp = await startSmtpServer({ rejectFirst: 2 });
    const metrics = new MetricsService('monitoring');
    sender = new MailSender(options(smtp.port), metrics);
    sender.send({ kind: 'new_device', to: 'u@example.test', subject: 'New sign-in', text: 'hello' });
    expect(sender.queue.pending).toBe(1); // send() returned before any SMTP exchange
    const mail = await smtp.waitFor((m) => m.to.includes('u@example.test'), 10_000);
    expect(mail.raw).toContain('Subject: New sign-in');
    expect(smtp.rejected()).toBe(2);
    await sender.queue.whenIdle();
    expect(await metricLine(metrics, 'retried')).toMatch(/ 2$/);
    expect(await metricLine(metrics, 'sent')).toMatch(/ 1$/);
  });

  it('keeps retrying while no SMTP server listens and delivers once one starts', async () => {
    const port = await freePort();
    sender = new MailSender(options(port, { maxAttempts: 20 }));
    sender.send({ kind: 'alert', to: 'ops@example.test', subject: 'Service down', text: 'billing' });
    await new Promise((r) => setTimeout(r, 150));
    smtp = await startSmtpServer({ port });
    await smtp.waitFor((m) => m.raw.includes('Subject: Service down'), 10_000);
  });

  it('gives up at once on a permanent (5xx) refusal and goes on with the next message', async () => {
    const received: string[] = [];
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('nobody@'))
          callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        else callback();
      },
      onData(stream, session, callback) {
        stream.on('data', () => undefined);
        stream.on('end', () => {
          received.push(session.envelope.rcptTo.map((r) => r.address).join(','));
          callback();
        });
      },
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    const metrics = new MetricsService('auth');
    sender = new MailSender(options(port), metrics);
    try {
      sender.send({ kind: 'api_key_created', to: 'nobody@example.test', subject: 's', text: 't' });
      sender.send({ kind: 'api_key_created', to: 'owner@example.test', subject: 's', text: 't' });
      await sender.queue.whenIdle();
      expect(received).toEqual(['owner@example.test']);
      expect(await metricLine(metrics, 'failed')).toMatch(/ 1$/);
      expect(await metricLine(metrics, 'retried')).toBeUndefined();
    } finally {
      await sender.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('drops messages beyond the queue limit instead of growing without end, and counts them', async () => {
    const port = await freePort(); // nothing listens: every message stays queued
    const metrics = new MetricsService('auth');
    const bounded = new MailSender(
      options(port, { maxPending: 3, maxAttempts: 20, firstRetryDelayMs: 60_000, maxRetryDelayMs: 60_000 }),
      metrics,
    );
    sender = bounded;
    const accepted = [1, 2, 3, 4, 5].map((n) =>
      bounded.send({ kind: 'alert', to: 'ops@example.test', subject: `m${n}`, text: 't' }),
    );
    expect(accepted).toEqual([true, true, true, false, false]);
    expect(await metricLine(metrics, 'dropped')).toMatch(/ 2$/);
  });

  it('refuses new mail after close and stops retrying', async () => {
    const port = await freePort();
    sender = new MailSender(options(port, { maxAttempts: 20, firstRetryDelayMs: 60_000, maxRetryDelayMs: 60_000 }));
    sender.send({ kind: 'alert', to: 'ops@example.test', subject: 'queued', text: 't' });
    await sender.close();
    expect(sender.queue.pending).toBe(0);
    expect(sender.send({ kind: 'alert', to: 'ops@example.test', subject: 'late', text: 't' })).toBe(false);
    await sender.close(); // idempotent
  });
});
