// The voice service: telephony over Skyetel SIP: calls, phone numbers, the live conversation loop.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { ServiceModule } from '@sovren/service';

@Module({
  imports: [ServiceModule.forRoot({ service: 'voice', postgres: true, sqlite: ['phone_numbers'] })],
})
export class VoiceModule {}
