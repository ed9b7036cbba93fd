// The monitoring service: heartbeats, platform status, host/GPU metrics and alerts.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { ServiceModule } from '@sovren/service';

@Module({
  imports: [ServiceModule.forRoot({ service: 'monitoring', postgres: true, sqlite: [] })],
})
export class MonitoringModule {}
