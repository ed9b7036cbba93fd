// Entry point of the voice service process (systemd unit sovren-voice, or `npx nx serve voice`).
import 'reflect-metadata';
import { bootstrapService } from '@sovren/service';

import { VoiceModule } from './app/voice.module';

bootstrapService(VoiceModule, 'voice').catch((error: unknown) => {
  process.stderr.write(`voice: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
