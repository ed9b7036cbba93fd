// Feature module: host and GPU metrics.
import { Module } from '@nestjs/common';

import { GpuMetricsService } from './gpu-metrics.service';
import { HostMetricsService } from './host-metrics.service';

@Module({
  providers: [HostMetricsService, GpuMetricsService],
  exports: [HostMetricsService, GpuMetricsService],
})
export class HostModule {}
