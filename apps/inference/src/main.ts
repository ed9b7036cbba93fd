// Entry point of the inference service process (systemd unit sovren-inference, or `npx nx serve inference`).
import 'reflect-metadata';
import { bootstrapService } from '@sovren/service';

import { InferenceModule } from './app/inference.module';

bootstrapService(InferenceModule, 'inference').catch((error: unknown) => {
  process.stderr.write(`inference: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
