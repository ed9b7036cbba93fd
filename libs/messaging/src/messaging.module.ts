// MessagingModule.forRoot({ service }): the global Nest module giving every provider the service's NatsClient.
// It connects during start-up without blocking on an unreachable NATS (see nats.client.ts), ensures the
// JetStream streams after every (re)connection, and drains the connection on application shutdown.

import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { NATS_CLIENT_OPTIONS, NatsClient, NatsClientOptions } from './client/nats.client';
import { ensureStreams, sovrenStreams } from './jetstream-setup';
import { subjectToken } from './subjects';

export const MESSAGING_MODULE_OPTIONS = Symbol('MESSAGING_MODULE_OPTIONS');

export interface MessagingModuleOptions {
  /** The service this process is (`auth`, `billing`…): names the connection and its subjects. */
  service: string;
  /** Create/update the JetStream streams after connecting (default true; idempotent). */
  ensureStreams?: boolean;
  /** Default request timeout in ms (default 5000). */
  requestTimeoutMs?: number;
}

@Injectable()
class MessagingLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('MessagingModule');

  constructor(
    private readonly client: NatsClient,
    @Inject(MESSAGING_MODULE_OPTIONS) private readonly options: MessagingModuleOptions,
    private readonly config: PlatformConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.options.ensureStreams !== false) {
      this.client.onConnect(async (client) => {
        const streams = await ensureStreams(
          await client.jetstreamManager(),
          sovrenStreams({ usageMaxBytes: this.config.natsUsageMaxBytes }),
        );
        this.logger.log(`JetStream streams ready: ${streams.map((stream) => stream.config.name).join(', ')}`);
      });
    }
    await this.client.connect();
    if (!this.client.isConnected()) {
      this.logger.warn(`Starting without NATS (${this.client.check().error}); not ready until it connects`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.drain();
  }
}

/** Where a service's replies arrive: `_INBOX.<service>` (its NATS user may subscribe to `_INBOX.<service>.>`). */
export function natsInboxPrefix(service: string): string {
  return `_INBOX.${subjectToken(service, 'service')}`;
}

@Module({})
export class MessagingModule {
  static forRoot(options: MessagingModuleOptions): DynamicModule {
    subjectToken(options.service, 'service');
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: MESSAGING_MODULE_OPTIONS, useValue: options },
        {
          provide: NATS_CLIENT_OPTIONS,
          inject: [PlatformConfig],
          useFactory: (config: PlatformConfig): NatsClientOptions => ({
            servers: config.natsUrl,
            name: `sovren-${options.service}`,
            // Its own NATS user when configured (see tools/nats), and replies under its own inbox prefix, which
            // is all that user may subscribe to besides its subjects.
            user: config.natsUser,
            pass: config.natsPassword,
            inboxPrefix: natsInboxPrefix(options.service),
            requestTimeoutMs: options.requestTimeoutMs,
            // Leave the other half of the shutdown budget to HTTP and the databases.
            drainTimeoutMs: Math.max(1_000, Math.floor(config.shutdownTimeoutMs / 2)),
          }),
        },
        NatsClient,
        MessagingLifecycle,
      ],
      exports: [NatsClient, MESSAGING_MODULE_OPTIONS],
    };
  }
}
