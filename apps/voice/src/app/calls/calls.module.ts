// Calls: the SIP endpoint, the call state machine, records, events and the calls API, and the voice agent that
// holds the conversation of agent calls; media (echo, prompts, recordings) comes from the media module.
import { Module } from '@nestjs/common';

import { loadEnvConfig } from '@sovren/config';

import { AgentInferenceClient } from '../agent/agent-inference.client';
import { AGENT_ENV, AgentEnv, validateAgentEnv } from '../agent/agent.env';
import { AgentMetrics } from '../agent/agent.metrics';
import { CallTranscriptsRepository } from '../agent/call-transcripts.repository';
import { VoiceAgentService } from '../agent/voice-agent.service';
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
    { provide: AGENT_ENV, useFactory: () => validateAgentEnv(loadEnvConfig(AgentEnv)) },
    AgentInferenceClient,
    AgentMetrics,
    CallTranscriptsRepository,
    VoiceAgentService,
  ],
  exports: [VoiceDatabases, VoiceMetrics, PhoneNumbersRepository, ApplicationsRepository, CallsService],
})
export class CallsModule {}
