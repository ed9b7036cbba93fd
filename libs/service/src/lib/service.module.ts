// Everything a SOVREN service process shares: validated config, JSON logs and metrics, NATS, its databases,
// the egress client, health probes, the NATS ping and the heartbeat to monitoring. An app's module imports ServiceModule.forRoot(...) once.
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@sovren/config';
import { DatabaseModule } from '@sovren/database';
import { EgressModule } from '@sovren/egress';
import { HeartbeatModule } from '@sovren/heartbeat';
import { MessagingModule } from '@sovren/messaging';
import { ObservabilityModule } from '@sovren/observability';

import { HealthController } from './health.controller';
import { PingResponder } from './ping.responder';
import { ReadinessService } from './readiness.service';
import { SERVICE_OPTIONS, ServiceOptions } from './service-options';

@Module({})
export class ServiceModule {
  static forRoot(options: ServiceOptions): DynamicModule {
    return {
      module: ServiceModule,
      global: true,
      imports: [
        ConfigModule.forRoot(),
        ObservabilityModule.forRoot(options.service),
        MessagingModule.forRoot({ service: options.service }),
        DatabaseModule.forRoot({
          postgres: options.postgres,
          sqlite: options.sqlite,
          runMigrations: true,
          applicationName: `sovren-${options.service}`,
        }),
        EgressModule.forRoot(),
        HeartbeatModule.forRoot({ service: options.service, readiness: ReadinessService }),
      ],
      controllers: [HealthController],
      providers: [{ provide: SERVICE_OPTIONS, useValue: options }, ReadinessService, PingResponder],
      exports: [SERVICE_OPTIONS, ReadinessService],
    };
  }
}
