// MailModule in a real Nest application: configured from SOVREN_MAIL_*, delivering to a real SMTP server,
// warning about retired variables, refusing a bad value by name, and closed when the application closes.
import { Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MetricsService, METRICS_SERVICE_NAME } from '@sovren/observability';
import { CollectingLogger, startSmtpServer } from '@sovren/testing';

import { createMailSender, MailModule } from '../mail.module';
import { MailSender } from '../mail-sender';

@Injectable()
class Notifier {
  constructor(readonly mail: MailSender) {}
}

@Module({ providers: [{ provide: METRICS_SERVICE_NAME, useValue: 'auth' }, MetricsService], exports: [MetricsService] })
class MetricsModule {}

describe('MailModule', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    Logger.overrideLogger(false);
  });

  it('gives every provider the one sender configured from SOVREN_MAIL_*, and closes it with the application', async () => {
    const smtp = await startSmtpServer();
    Object.assign(process.env, {
      SOVREN_MAIL_HOST: '127.0.0.1',
      SOVREN_MAIL_PORT: String(smtp.port),
      SOVREN_MAIL_FROM: 'ops-bot@sovren.test',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [{ module: MetricsModule, global: true }, MailModule.forRoot()],
      providers: [Notifier],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const sender = app.get(Notifier).mail;
      expect(app.get(MailSender)).toBe(sender);
      sender.send({ kind: 'test', to: 'x@example.test', subject: 'from the module', text: 'hi' });
      const mail = await smtp.waitFor((m) => m.raw.includes('Subject: from the module'), 10_000);
      expect(mail.from).toBe('ops-bot@sovren.test');
      await app.close();
      expect(sender.send({ kind: 'test', to: 'x@example.test', subject: 'after close', text: 'hi' })).toBe(false);
    } finally {
      await app.close();
      await smtp.close();
    }
  });

  it('warns once per retired variable still set, naming its replacement', async () => {
    const logger = new CollectingLogger();
    Logger.overrideLogger(logger);
    const sender = createMailSender(new MetricsService('monitoring'), {
      SOVREN_ALERT_SMTP_HOST: 'mail.local',
      SOVREN_AUTH_MAIL_FROM: 'a@b.c',
    });
    await sender.close();
    const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => (l.message as { msg: string }).msg);
    expect(warnings.sort()).toEqual([
      'SOVREN_ALERT_SMTP_HOST is no longer read; set SOVREN_MAIL_HOST instead',
      'SOVREN_AUTH_MAIL_FROM is no longer read; set SOVREN_MAIL_FROM instead',
    ]);
  });

  it('refuses a bad variable, naming it', () => {
    expect(() => createMailSender(new MetricsService('auth'), { SOVREN_MAIL_PORT: '70000' })).toThrow(
      /SOVREN_MAIL_PORT/,
    );
  });
});
