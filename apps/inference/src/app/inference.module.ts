// The inference service: LLM generation on the native engine behind an OpenAI-compatible HTTP API and NATS,
// with continuous batching, usage events and metrics. The shared service shell comes from @sovren/service.
import { Module } from '@nestjs/common';
import { AuthGuardModule } from '@sovren/auth-guard';
import { JSON_BODY_LIMIT } from '@sovren/http';
import { ServiceModule } from '@sovren/service';

import { EmbeddingsController } from './embeddings/embeddings.controller';
import { EmbeddingsService } from './embeddings/embeddings.service';
import { GenerationService } from './generation/generation.service';
import { InferenceConfigModule } from './inference-config/inference-config.module';
import { INFERENCE_ENV, InferenceEnv } from './inference-config/inference.env';
import { InferenceMetrics } from './inference.metrics';
import { ModelRegistry } from './models/model-registry.service';
import { ModelsController } from './models/models.controller';
import { InferenceNatsResponder } from './nats/inference-nats.responder';
import { OpenAiBodyErrorHandler } from './openai/openai-body-error.handler';
import { OpenAiController } from './openai/openai.controller';
import { SpeechNatsResponder } from './speech/speech-nats.responder';
import { SpeechSynthesisService } from './speech/speech-synthesis.service';
import { SpeechController } from './speech/speech.controller';
import { TranscriptionNatsResponder } from './transcription/transcription-nats.responder';
import { TranscriptionController } from './transcription/transcription.controller';
import { TranscriptionService } from './transcription/transcription.service';
import { UsageEventPublisher } from './usage/usage-event.publisher';

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'inference', postgres: true, sqlite: [] }),
    AuthGuardModule.forRoot(),
    InferenceConfigModule,
  ],
  controllers: [OpenAiController, EmbeddingsController, ModelsController, SpeechController, TranscriptionController],
  providers: [
    // Long-context prompts arrive as large JSON bodies (applyHttpPlatform reads this).
    {
      provide: JSON_BODY_LIMIT,
      useFactory: (env: InferenceEnv) => env.SOVREN_INFERENCE_JSON_BODY_LIMIT_BYTES,
      inject: [INFERENCE_ENV],
    },
    InferenceMetrics,
    ModelRegistry,
    UsageEventPublisher,
    GenerationService,
    EmbeddingsService,
    InferenceNatsResponder,
    OpenAiBodyErrorHandler,
    SpeechSynthesisService,
    SpeechNatsResponder,
    TranscriptionService,
    TranscriptionNatsResponder,
  ],
})
export class InferenceModule {}
