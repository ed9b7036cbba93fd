// Answers `monitoring.status` on NATS for the operator (the `sovren status` command, NATS user cli): the same
// platform status GET /api/v1/status serves, reduced to what a terminal table shows.
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { MONITORING_STATUS, NatsClient, type MonitoringStatusReplyV1 } from '@sovren/messaging';

import { PlatformStatusService } from './platform-status.service';

@Injectable()
export class StatusResponder implements OnApplicationBootstrap {
  constructor(
    private readonly nats: NatsClient,
    private readonly status: PlatformStatusService,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond<unknown, MonitoringStatusReplyV1>(MONITORING_STATUS, () => this.reply(), {
      queue: 'monitoring',
    });
  }

  reply(): MonitoringStatusReplyV1 {
    const status = this.status.refresh();
    return {
      v: 1,
      state: status.state,
      checkedAt: status.checkedAt,
      services: status.services.map((service) => ({
        service: service.service,
        state: service.state,
        since: service.since,
        lastError: service.lastError,
        instances: service.instances.filter((instance) => instance.state !== 'down').length,
      })),
    };
  }
}
