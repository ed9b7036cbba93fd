// Calls: the SIP endpoint, the call state machine, records, events and the calls API; media (echo, prompts,
// recordings) comes from the media module.
import { Module } from '@nestjs/common';

import { MediaModule } from '../media/media.module';
import { ApplicationsRepository } from '../numbers/applications.repository';
import { PhoneNumbersRepository } from '../numbers/phone-numbers.repository';
import { SipService } from '../sip/sip.service';
import { VoiceDatabases } from '../voice-databases';
import { VoiceMetrics } from '../voice.metrics';
import { CallEventsPublisher } from './call-events.publisher';
import { CallRecordsRepository } from './call-records.repository';
import { CallsController } from './calls.controller';
import { CallsService } from './calls.service';

@Module({
  imports: [MediaModule],
  controllers: [CallsController],
  providers: [
    VoiceDatabases,
    VoiceMetrics,
    SipService,
    CallsService,
    CallRecordsRepository,
    CallEventsPublisher,
    PhoneNumbersRepository,
    ApplicationsRepository,
  ],
  exports: [VoiceDatabases, VoiceMetrics, PhoneNumbersRepository, ApplicationsRepository, CallsService],
})
export class CallsModule {}
