// Media: call recordings (store, retention sweep) and the RTP quality metrics. The calls module uses both.
import { Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';

import { VOICE_MEDIA_ENV, VoiceMediaEnv } from '../voice-config/voice-media.env';

import { RecordingRetentionSweep } from './recording-retention.sweep';
import { RecordingStore } from './recording-store';
import { VoiceMediaMetrics } from './voice-media.metrics';

@Module({
  providers: [
    { provide: VOICE_MEDIA_ENV, useFactory: () => loadEnvConfig(VoiceMediaEnv) },
    VoiceMediaMetrics,
    RecordingStore,
    RecordingRetentionSweep,
  ],
  exports: [VoiceMediaMetrics, RecordingStore],
})
export class MediaModule {}
