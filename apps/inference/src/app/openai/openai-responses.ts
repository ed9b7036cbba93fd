// OpenAI's response objects, built field for field as the official API sends them: chat.completion,
// chat.completion.chunk, text_completion (also its stream chunks), the model list, and usage.
import type { UsageFinishReason } from '@sovren/messaging';

export type OpenAiKind = 'chat' | 'completions';
export type OpenAiFinishReason = 'stop' | 'length';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Identity of one response: the same id and created time on every chunk of a stream. */
export interface ResponseIdentity {
  kind: OpenAiKind;
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
}

export function usageOf(promptTokens: number, completionTokens: number): OpenAiUsage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** A request cut short (cancelled) reports `length` to a client that is still there, e.g. on NATS shutdown. */
export function openAiFinishReason(reason: UsageFinishReason): OpenAiFinishReason {
  return reason === 'stop' ? 'stop' : 'length';
}

export function completionResponse(
  identity: ResponseIdentity,
  text: string,
  finishReason: OpenAiFinishReason,
  usage: OpenAiUsage,
): Record<string, unknown> {
  const head = header(identity, identity.kind === 'chat' ? 'chat.completion' : 'text_completion');
  const choice =
    identity.kind === 'chat'
      ? {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: finishReason,
        }
      : { text, index: 0, logprobs: null, finish_reason: finishReason };
  return { ...head, choices: [choice], usage };
}

/** One stream chunk. `delta` null: the closing chunk carrying only the finish reason. */
export function streamChunk(
  identity: ResponseIdentity,
  delta: { role?: 'assistant'; content?: string } | null,
  finishReason: OpenAiFinishReason | null,
  includeUsage: boolean,
): Record<string, unknown> {
  const head = header(identity, identity.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion');
  const choice =
    identity.kind === 'chat'
      ? { index: 0, delta: delta ?? {}, logprobs: null, finish_reason: finishReason }
      : { text: delta?.content ?? '', index: 0, logprobs: null, finish_reason: finishReason };
  // With include_usage OpenAI adds "usage": null to every chunk but the last.
  return includeUsage ? { ...head, choices: [choice], usage: null } : { ...head, choices: [choice] };
}

/** The extra last chunk of `stream_options.include_usage`: no choices, the usage. */
export function usageChunk(identity: ResponseIdentity, usage: OpenAiUsage): Record<string, unknown> {
  return {
    ...header(identity, identity.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion'),
    choices: [],
    usage,
  };
}

function header(identity: ResponseIdentity, object: string): Record<string, unknown> {
  return {
    id: identity.id,
    object,
    created: identity.created,
    model: identity.model,
    system_fingerprint: identity.systemFingerprint,
  };
}
