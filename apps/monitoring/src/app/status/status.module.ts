// Feature module: platform status from heartbeats.
import { Module } from '@nestjs/common';

import { PlatformStatusService } from './platform-status.service';
import { StatusController } from './status.controller';

@Module({
  controllers: [StatusController],
  providers: [PlatformStatusService],
  exports: [PlatformStatusService],
})
export class StatusModule {}
