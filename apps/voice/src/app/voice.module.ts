// The voice service: telephony over Skyetel SIP: calls, phone numbers, the live conversation loop.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { AuthGuardModule } from '@sovren/auth-guard';
import { ServiceModule } from '@sovren/service';

import { CallsModule } from './calls/calls.module';
import { NumbersModule } from './numbers/numbers.module';
import { VoiceConfigModule } from './voice-config/voice-config.module';

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'voice', postgres: true, sqlite: ['phone_numbers', 'applications'] }),
    AuthGuardModule.forRoot(),
    VoiceConfigModule,
    CallsModule,
    NumbersModule,
  ],
})
export class VoiceModule {}
