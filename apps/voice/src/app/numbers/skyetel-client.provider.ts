// The Skyetel client voice uses for its numbers, built from VoiceEnv; null when no credentials are configured, so
// the service starts without them and the numbers API answers 503.
import type { FactoryProvider } from '@nestjs/common';
import { EgressClient } from '@sovren/egress';
import { SkyetelClient } from '@sovren/skyetel';

import { VOICE_ENV, type VoiceEnv } from '../voice-config/voice.env';

export const SKYETEL_CLIENT = Symbol('SKYETEL_CLIENT');

export const skyetelClientProvider: FactoryProvider<SkyetelClient | null> = {
  provide: SKYETEL_CLIENT,
  inject: [VOICE_ENV, EgressClient],
  useFactory: (env: VoiceEnv, egress: EgressClient) =>
    env.SOVREN_SKYETEL_SID === '' || env.SOVREN_SKYETEL_SECRET === ''
      ? null
      : new SkyetelClient(egress, {
          baseUrl: env.SOVREN_SKYETEL_API_URL,
          sid: env.SOVREN_SKYETEL_SID,
          secret: env.SOVREN_SKYETEL_SECRET,
          requestsPerMinute: env.SOVREN_SKYETEL_REQUESTS_PER_MINUTE,
        }),
};
