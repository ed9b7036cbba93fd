// The voice agent's side of the inference contracts over NATS: transcribe one utterance, stream a chat reply,
// stream synthesised speech, each cancellable; and which models to use when the environment names none.
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import {
  INFERENCE_GENERATE,
  INFERENCE_MODELS,
  INFERENCE_SYNTHESIZE,
  INFERENCE_TRANSCRIBE,
  NatsClient,
  parseInferenceGenerateReplyV1,
  parseInferenceGenerateStreamMessageV1,
  parseInferenceModelsReplyV1,
  parseInferenceSynthesizeReplyV1,
  parseInferenceSynthesizeStreamMessageV1,
  parseInferenceTranscribeReplyV1,
  streamRequest,
  type InferenceChatMessageV1,
  type InferenceGenerateFinalV1,
  type InferenceGenerateRequestV1,
  type InferenceListedModelKind,
  type InferenceSynthesizeFinalV1,
  type InferenceSynthesizeRequestV1,
  type InferenceTranscribeRequestV1,
  type InferenceToolV1,
  type InferenceTranscribeResultV1,
  type MessageStream,
} from '@sovren/messaging';

/** A refused request or a stream that ended in error: `code` is the inference error code. */
export class AgentInferenceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Billing {
  requestId: string;
  ownerId: string;
}

/** A reply being generated: text pieces as they come, then the final message. */
export interface ReplyStream {
  /** The text of each chunk, in order; ends after the final message (read `final` then). */
  pieces(): AsyncGenerator<string>;
  /** Set once the stream has ended normally. */
  final: InferenceGenerateFinalV1 | null;
  cancel(): void;
}

/** Speech being synthesised: PCM chunks at `sampleRate`, then the final message. */
export interface SpeechStream {
  sampleRate: number;
  chunks(): AsyncGenerator<Int16Array>;
  final: InferenceSynthesizeFinalV1 | null;
  cancel(): void;
}

const TRANSCRIBE_TIMEOUT_MS = 30_000;

function int16FromBase64(audio: string): Int16Array {
  const bytes = Buffer.from(audio, 'base64');
  const samples = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
  return samples;
}

function base64FromInt16(pcm: Int16Array): string {
  const bytes = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) bytes.writeInt16LE(pcm[i], i * 2);
  return bytes.toString('base64');
}

@Injectable()
export class AgentInferenceClient {
  private readonly logger = new Logger(AgentInferenceClient.name);

  constructor(private readonly nats: NatsClient) {}

  /**
   * Per kind, the first model inference lists (loaded ones first; failed ones never), from one `inference.models`
   * request; a kind it lists none of is absent.
   */
  async defaultModels(): Promise<Partial<Record<InferenceListedModelKind, string>>> {
    const reply = await this.nats.request(INFERENCE_MODELS, {}, { parse: parseInferenceModelsReplyV1 });
    const picked: Partial<Record<InferenceListedModelKind, { id: string; loaded: boolean }>> = {};
    for (const model of reply.models) {
      if (model.state === 'failed') continue;
      const kind = model.kind ?? 'llm';
      const loaded = model.state === 'loaded';
      if (!picked[kind] || (loaded && !picked[kind].loaded)) picked[kind] = { id: model.id, loaded };
    }
    return Object.fromEntries(Object.entries(picked).map(([kind, m]) => [kind, m.id]));
  }

  /** One utterance (16 kHz PCM, at most 30 s) to text. */
  async transcribe(
    pcm16k: Int16Array,
    options: Billing & { model: string; language?: string; prompt?: string },
  ): Promise<InferenceTranscribeResultV1> {
    const request: InferenceTranscribeRequestV1 = {
      v: 1,
      requestId: options.requestId,
      ownerId: options.ownerId,
      model: options.model,
      audio: base64FromInt16(pcm16k),
      ...(options.language ? { language: options.language } : {}),
      ...(options.prompt ? { prompt: options.prompt.slice(-1000) } : {}),
    };
    const reply = await this.nats.request(INFERENCE_TRANSCRIBE, request, {
      timeoutMs: TRANSCRIBE_TIMEOUT_MS,
      parse: parseInferenceTranscribeReplyV1,
    });
    if (!reply.ok) throw new AgentInferenceError(reply.error.code, reply.error.message);
    return reply;
  }

  /** Starts a streamed chat reply; throws AgentInferenceError when refused. */
  async generate(
    messages: InferenceChatMessageV1[],
    options: Billing & {
      model: string;
      maxTokens: number;
      temperature?: number;
      tools?: InferenceToolV1[];
      toolChoice?: 'auto' | 'required';
    },
  ): Promise<ReplyStream> {
    const { reply, stream } = await this.openStream(
      INFERENCE_GENERATE,
      (streamSubject): InferenceGenerateRequestV1 => ({
        v: 1,
        requestId: options.requestId,
        ownerId: options.ownerId,
        model: options.model,
        messages,
        streamSubject,
        stream: true,
        maxTokens: options.maxTokens,
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
        ...(options.tools && options.tools.length > 0
          ? { tools: options.tools, toolChoice: options.toolChoice ?? 'auto' }
          : {}),
      }),
      parseInferenceGenerateReplyV1,
      parseInferenceGenerateStreamMessageV1,
    );
    const result: ReplyStream = {
      final: null,
      cancel: () => {
        this.publishCancel(reply.cancelSubject);
        stream.close();
      },
      pieces: async function* () {
        for await (const message of stream) {
          if (message.type === 'chunk') {
            yield message.text;
            continue;
          }
          if (message.finishReason === 'error') {
            throw new AgentInferenceError(
              message.error?.code ?? 'error',
              message.error?.message ?? 'generation failed',
            );
          }
          result.final = message;
        }
      },
    };
    return result;
  }

  /** Starts streamed synthesis of `text` at `sampleRate`; throws AgentInferenceError when refused. */
  async synthesize(
    text: string,
    options: Billing & { model: string; voice: string; sampleRate: number },
  ): Promise<SpeechStream> {
    const { reply, stream } = await this.openStream(
      INFERENCE_SYNTHESIZE,
      (streamSubject): InferenceSynthesizeRequestV1 => ({
        v: 1,
        requestId: options.requestId,
        ownerId: options.ownerId,
        model: options.model,
        voice: options.voice,
        input: text,
        sampleRate: options.sampleRate,
        streamSubject,
      }),
      parseInferenceSynthesizeReplyV1,
      parseInferenceSynthesizeStreamMessageV1,
    );
    return this.speechStream(stream, reply.sampleRate, reply.cancelSubject);
  }

  /** Sends a streamed request; a refusal becomes an AgentInferenceError with the refusal's code. */
  private async openStream<
    TRequest,
    TReply extends { accepted: true } | { accepted: false; error: { code: string; message: string } },
    TMessage extends { type: 'chunk' | 'final' },
  >(
    subject: string,
    build: (streamSubject: string) => TRequest,
    parseReply: (raw: unknown) => TReply,
    parseMessage: (raw: unknown) => TMessage,
  ): Promise<{ reply: Extract<TReply, { accepted: true }>; stream: MessageStream<TMessage> }> {
    const { reply, messages } = await streamRequest(this.nats, subject, build, {
      parseReply,
      parseMessage,
      isFinal: (m) => m.type === 'final',
      isAccepted: (r) => r.accepted,
    });
    if (!reply.accepted) {
      const { error } = reply as Extract<TReply, { accepted: false }>;
      throw new AgentInferenceError(error.code, error.message);
    }
    return { reply: reply as Extract<TReply, { accepted: true }>, stream: messages };
  }

  private speechStream(
    stream: MessageStream<ReturnType<typeof parseInferenceSynthesizeStreamMessageV1>>,
    sampleRate: number,
    cancelSubject: string,
  ): SpeechStream {
    const result: SpeechStream = {
      sampleRate,
      final: null,
      cancel: () => {
        this.publishCancel(cancelSubject);
        stream.close();
      },
      chunks: async function* () {
        for await (const message of stream) {
          if (message.type === 'chunk') {
            yield int16FromBase64(message.audio);
            continue;
          }
          if (message.finishReason === 'error') {
            throw new AgentInferenceError(message.error?.code ?? 'error', message.error?.message ?? 'synthesis failed');
          }
          result.final = message;
        }
      },
    };
    return result;
  }

  /** Best effort: without NATS the request cannot be reached anyway, and its stream is closed on our side. */
  private publishCancel(subject: string): void {
    try {
      this.nats.publish(subject, {});
    } catch (error) {
      this.logger.warn({ msg: 'cannot publish a cancel', subject, err: errorMessage(error) });
    }
  }
}
