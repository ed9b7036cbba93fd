// Provides the validated MonitoringEnv (MONITORING_ENV) to the monitoring feature modules.
import { Global, Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';

import { MONITORING_ENV, MonitoringEnv } from './monitoring.env';

@Global()
@Module({
  providers: [{ provide: MONITORING_ENV, useFactory: () => loadEnvConfig(MonitoringEnv) }],
  exports: [MONITORING_ENV],
})
export class MonitoringEnvModule {}
