// HeartbeatModule.forRoot({ service, readiness }): starts the heartbeat publisher of one service process.
// `readiness` is the class that reports dependency health (libs/service passes its ReadinessService); taking it
// as a parameter keeps this lib free of a dependency on libs/service.
import { DynamicModule, Module, Type } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';

import { HeartbeatEnv } from './heartbeat.env';
import { HeartbeatReadinessSource } from './heartbeat.message';
import { HEARTBEAT_OPTIONS, HEARTBEAT_READINESS, HeartbeatOptions, HeartbeatPublisher } from './heartbeat.publisher';

export interface HeartbeatModuleOptions {
  service: string;
  readiness: Type<HeartbeatReadinessSource>;
}

@Module({})
export class HeartbeatModule {
  static forRoot(options: HeartbeatModuleOptions): DynamicModule {
    return {
      module: HeartbeatModule,
      providers: [
        {
          provide: HEARTBEAT_OPTIONS,
          useFactory: (): HeartbeatOptions => ({
            service: options.service,
            intervalSeconds: loadEnvConfig(HeartbeatEnv).SOVREN_HEARTBEAT_INTERVAL_SECONDS,
          }),
        },
        { provide: HEARTBEAT_READINESS, useClass: options.readiness },
        HeartbeatPublisher,
      ],
      exports: [HeartbeatPublisher],
    };
  }
}
