// The global module providing the EgressClient. Needs ConfigModule and ObservabilityModule.
import { DynamicModule, Module } from '@nestjs/common';

import { EgressClient } from './egress.client';

@Module({})
export class EgressModule {
  static forRoot(): DynamicModule {
    return { module: EgressModule, global: true, providers: [EgressClient], exports: [EgressClient] };
  }
}
