// Entry point of the monitoring service process (systemd unit sovren-monitoring, or `npx nx serve monitoring`).
import 'reflect-metadata';
import { bootstrapService } from '@sovren/service';

import { MonitoringModule } from './app/monitoring.module';

bootstrapService(MonitoringModule, 'monitoring').catch((error: unknown) => {
  process.stderr.write(`monitoring: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
