// The inference service: LLM, speech recognition and speech synthesis on the native engine.
// Domain features plug in here as feature modules; the shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { ServiceModule } from '@sovren/service';

@Module({
  imports: [ServiceModule.forRoot({ service: 'inference', postgres: true, sqlite: [] })],
})
export class InferenceModule {}
