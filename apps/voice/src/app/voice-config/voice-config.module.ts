// The voice configuration, wired once for every voice feature: the validated VoiceEnv (VOICE_ENV).
import { Global, Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';

import { checkVoiceEnv, VOICE_ENV, VoiceEnv } from './voice.env';

@Global()
@Module({
  providers: [{ provide: VOICE_ENV, useFactory: () => checkVoiceEnv(loadEnvConfig(VoiceEnv)) }],
  exports: [VOICE_ENV],
})
export class VoiceConfigModule {}
