// Feature module: host and GPU metrics.
import { Module } from '@nestjs/common';

import { GpuMetricsService, nvmlReaderProvider } from './gpu-metrics.service';
import { HostMetricsService } from './host-metrics.service';

@Module({
  providers: [HostMetricsService, GpuMetricsService, nvmlReaderProvider],
  exports: [HostMetricsService, GpuMetricsService],
})
export class HostModule {}
