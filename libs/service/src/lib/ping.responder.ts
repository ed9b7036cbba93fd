// Answers `<service>.ping` on NATS so operators and other services can see this instance is alive.
import { Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { NatsClient, PingReplyV1, pingSubject } from '@sovren/messaging';

import { instanceId, SERVICE_OPTIONS, ServiceOptions } from './service-options';

@Injectable()
export class PingResponder implements OnApplicationBootstrap {
  private readonly startedAt = Date.now();

  constructor(
    private readonly nats: NatsClient,
    private readonly config: PlatformConfig,
    @Inject(SERVICE_OPTIONS) private readonly options: ServiceOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond<unknown, PingReplyV1>(pingSubject(this.options.service), () => this.reply());
  }

  reply(): PingReplyV1 {
    return {
      v: 1,
      service: this.options.service,
      instance: instanceId(),
      version: this.config.version,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      time: new Date().toISOString(),
    };
  }
}
