// The monitoring service: heartbeats, platform status, host/GPU metrics and alerts.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { AuthGuardModule } from '@sovren/auth-guard';
import { MailModule } from '@sovren/mail';
import { ServiceModule } from '@sovren/service';

import { AlertsModule } from './alerts/alerts.module';
import { HostModule } from './host/host.module';
import { MonitoringConfigModule } from './monitoring-config/monitoring-config.module';
import { MonitoringMetricsModule } from './monitoring.metrics';
import { StatusModule } from './status/status.module';

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'monitoring', postgres: true, sqlite: [] }),
    AuthGuardModule.forRoot(),
    MailModule.forRoot(),
    MonitoringConfigModule,
    MonitoringMetricsModule,
    StatusModule,
    HostModule,
    AlertsModule,
  ],
})
export class MonitoringModule {}
