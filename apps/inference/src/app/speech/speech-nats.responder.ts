// inference.synthesize for other services (the voice service first): answers accepted/refused at once, then
// publishes PCM chunks (16-bit LE mono, base64) in order and one final message to the caller's inbox; anything
// published to the cancel subject named in the acceptance ends the request before its next chunk.
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { float32ToPcm16Bytes } from '@sovren/audio';
import {
  INFERENCE_SYNTHESIZE,
  inferenceSynthesizeCancelSubject,
  NatsClient,
  parseInferenceSynthesizeRequestV1,
  type InferenceSynthesizeFinalV1,
  type InferenceSynthesizeReplyV1,
  type InferenceSynthesizeRequestV1,
  type InferenceSynthesizeStreamMessageV1,
  type MessagingSubscription,
} from '@sovren/messaging';
import { errorMessage } from '@sovren/resilience';

import { SpeechError } from './speech.errors';
import { SpeechSynthesisService } from './speech-synthesis.service';

/** One inference instance answers each request (several share the load). */
const QUEUE_GROUP = 'inference';

@Injectable()
export class SpeechNatsResponder implements OnApplicationBootstrap {
  private readonly logger = new Logger(SpeechNatsResponder.name);

  constructor(
    private readonly nats: NatsClient,
    private readonly speech: SpeechSynthesisService,
  ) {}

  onApplicationBootstrap(): void {
    this.nats.respond<InferenceSynthesizeRequestV1, InferenceSynthesizeReplyV1>(
      INFERENCE_SYNTHESIZE,
      (request) => this.synthesize(request),
      { queue: QUEUE_GROUP, parse: parseInferenceSynthesizeRequestV1 },
    );
  }

  async synthesize(request: InferenceSynthesizeRequestV1): Promise<InferenceSynthesizeReplyV1> {
    const cancelSubject = inferenceSynthesizeCancelSubject(request.requestId);
    const abort = new AbortController();
    const send = (message: InferenceSynthesizeStreamMessageV1): void => {
      try {
        this.nats.publish(request.streamSubject, message);
      } catch (error) {
        this.logger.warn({
          msg: 'cannot publish to the stream subject',
          request_id: request.requestId,
          err: errorMessage(error),
        });
      }
    };
    let cancelSubscription: MessagingSubscription | undefined;
    try {
      cancelSubscription = this.nats.subscribe(cancelSubject, () => abort.abort());
      const started = await this.speech.start(
        {
          endpoint: 'nats',
          requestId: request.requestId,
          ownerId: request.ownerId,
          ...(request.keyId ? { keyId: request.keyId } : {}),
          model: request.model,
          voice: request.voice,
          input: request.input,
          ...(request.speed !== undefined ? { speed: request.speed } : {}),
          ...(request.sampleRate !== undefined ? { sampleRate: request.sampleRate } : {}),
        },
        {
          onAudio: (samples, index) =>
            send({
              v: 1,
              type: 'chunk',
              requestId: request.requestId,
              index,
              audio: float32ToPcm16Bytes(samples).toString('base64'),
            }),
        },
        abort.signal,
      );
      void started.done.then((outcome) => {
        cancelSubscription?.unsubscribe();
        const final: InferenceSynthesizeFinalV1 = {
          v: 1,
          type: 'final',
          requestId: request.requestId,
          finishReason: outcome.finishReason,
          chunks: outcome.chunks,
          sampleRate: outcome.sampleRate,
          audioSeconds: outcome.audioSeconds,
          characters: outcome.characters,
        };
        if (outcome.error) final.error = outcome.error;
        send(final);
      });
      return { v: 1, accepted: true, requestId: request.requestId, sampleRate: started.sampleRate, cancelSubject };
    } catch (error) {
      cancelSubscription?.unsubscribe();
      if (error instanceof SpeechError) {
        return {
          v: 1,
          accepted: false,
          requestId: request.requestId,
          error: { code: error.code, message: error.message },
        };
      }
      throw error;
    }
  }
}
