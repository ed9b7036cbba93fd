// Feature module: platform status from heartbeats.
import { Module } from '@nestjs/common';

import { PlatformStatusService } from './platform-status.service';
import { StatusController } from './status.controller';
import { StatusResponder } from './status.responder';

@Module({
  controllers: [StatusController],
  providers: [PlatformStatusService, StatusResponder],
  exports: [PlatformStatusService],
})
export class StatusModule {}
