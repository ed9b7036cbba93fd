// The inference configuration, wired once for every inference feature: the validated InferenceEnv (INFERENCE_ENV).
import { Global, Module } from '@nestjs/common';
import { loadEnvConfig } from '@sovren/config';

import { INFERENCE_ENV, InferenceEnv } from './inference.env';

@Global()
@Module({
  providers: [{ provide: INFERENCE_ENV, useFactory: () => loadEnvConfig(InferenceEnv) }],
  exports: [INFERENCE_ENV],
})
export class InferenceConfigModule {}
