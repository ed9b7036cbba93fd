// MailModule.forRoot(): the global module giving an app its MailSender, configured from SOVREN_MAIL_* and closed
// when the app shuts down. Needs MetricsService (ServiceModule provides it).
import { DynamicModule, Logger, Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';
import { MetricsService } from '@sovren/observability';

import { MailEnv, retiredMailVariablesSet } from './mail.env';
import { MailSender, MailSenderOptions } from './mail-sender';

export function mailSenderOptions(env: MailEnv): MailSenderOptions {
  return {
    host: env.SOVREN_MAIL_HOST,
    port: env.SOVREN_MAIL_PORT,
    from: env.SOVREN_MAIL_FROM,
    maxAttempts: env.SOVREN_MAIL_ATTEMPTS,
    firstRetryDelayMs: env.SOVREN_MAIL_RETRY_DELAY_MS,
    maxRetryDelayMs: Math.max(env.SOVREN_MAIL_RETRY_DELAY_MS, env.SOVREN_MAIL_MAX_RETRY_DELAY_MS),
    maxPending: env.SOVREN_MAIL_QUEUE_LIMIT,
  };
}

/** Builds the sender from the environment, warning once about each retired variable still set. */
export function createMailSender(metrics: MetricsService, env: NodeJS.ProcessEnv = process.env): MailSender {
  const logger = new Logger('MailModule');
  for (const { variable, replacement } of retiredMailVariablesSet(env)) {
    logger.warn({ msg: `${variable} is no longer read; set ${replacement} instead`, variable, replacement });
  }
  return new MailSender(mailSenderOptions(loadEnvConfig(MailEnv, env)), metrics);
}

@Module({})
export class MailModule {
  static forRoot(): DynamicModule {
    return {
      module: MailModule,
      global: true,
      providers: [
        {
          provide: MailSender,
          useFactory: (metrics: MetricsService) => createMailSender(metrics),
          inject: [MetricsService],
        },
      ],
      exports: [MailSender],
    };
  }
}
