// The monitoring configuration, wired once for every monitoring feature: the validated MonitoringEnv (MONITORING_ENV).
import { Global, Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';

import { MONITORING_ENV, MonitoringEnv } from './monitoring.env';

@Global()
@Module({
  providers: [{ provide: MONITORING_ENV, useFactory: () => loadEnvConfig(MonitoringEnv) }],
  exports: [MONITORING_ENV],
})
export class MonitoringConfigModule {}
