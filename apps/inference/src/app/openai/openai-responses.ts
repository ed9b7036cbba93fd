// OpenAI's response objects, built field for field as the official API sends them: chat.completion,
// chat.completion.chunk, text_completion (also its stream chunks), tool calls, logprobs, the model list, and usage.
import type { UsageFinishReason } from '@sovren/messaging';

export type OpenAiKind = 'chat' | 'completions';
export type OpenAiFinishReason = 'stop' | 'length' | 'tool_calls';

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** `cached_tokens`: prompt tokens restored from the prefix cache instead of evaluated (OpenAI's prompt caching). */
  prompt_tokens_details: { cached_tokens: number };
}

/** Identity of one response: the same id and created time on every chunk of a stream. */
export interface ResponseIdentity {
  kind: OpenAiKind;
  id: string;
  created: number;
  model: string;
  systemFingerprint: string;
}

/** A token with its text, for logprobs. */
export interface TokenText {
  token: string;
  logprob: number;
  top: Array<{ token: string; logprob: number }>;
}

export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A tool call's piece of a stream chunk: the first carries id, type and name; later ones argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface ChatDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: ToolCallDelta[];
}

/** The usage of one answer: the prompt once (choices share it), the completions of every choice summed. */
export function usageOf(
  choices: ReadonlyArray<{ promptTokens: number; cachedPromptTokens: number; completionTokens: number }>,
): OpenAiUsage {
  const promptTokens = Math.max(...choices.map((c) => c.promptTokens));
  const completionTokens = choices.reduce((sum, c) => sum + c.completionTokens, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: Math.max(...choices.map((c) => c.cachedPromptTokens)) },
  };
}

/** A request cut short (cancelled) reports `length` to a client that is still there, e.g. on NATS shutdown. */
export function openAiFinishReason(reason: UsageFinishReason): OpenAiFinishReason {
  return reason === 'stop' ? 'stop' : 'length';
}

/** Chat logprobs: `{content: [{token, logprob, bytes, top_logprobs}], refusal: null}`. */
export function chatLogprobs(tokens: readonly TokenText[]): Record<string, unknown> {
  const entry = (t: { token: string; logprob: number }) => ({
    token: t.token,
    logprob: t.logprob,
    bytes: [...Buffer.from(t.token, 'utf8')],
  });
  return { content: tokens.map((t) => ({ ...entry(t), top_logprobs: t.top.map(entry) })), refusal: null };
}

/** Legacy completions logprobs: parallel arrays; `text_offset` counts from the start of the choice's text. */
export function completionLogprobs(tokens: readonly TokenText[], offset: number): Record<string, unknown> {
  const textOffset: number[] = [];
  let at = offset;
  for (const t of tokens) {
    textOffset.push(at);
    at += t.token.length;
  }
  return {
    tokens: tokens.map((t) => t.token),
    token_logprobs: tokens.map((t) => t.logprob),
    top_logprobs: tokens.map((t) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))),
    text_offset: textOffset,
  };
}

export function chatChoice(
  index: number,
  message: { content: string | null; toolCalls?: OpenAiToolCall[] },
  finishReason: OpenAiFinishReason,
  logprobs: Record<string, unknown> | null,
): Record<string, unknown> {
  const body: Record<string, unknown> = { role: 'assistant', content: message.content, refusal: null };
  if (message.toolCalls && message.toolCalls.length > 0) body['tool_calls'] = message.toolCalls;
  return { index, message: body, logprobs, finish_reason: finishReason };
}

export function completionChoice(
  index: number,
  text: string,
  finishReason: OpenAiFinishReason,
  logprobs: Record<string, unknown> | null,
): Record<string, unknown> {
  return { text, index, logprobs, finish_reason: finishReason };
}

export function completionResponse(
  identity: ResponseIdentity,
  choices: Array<Record<string, unknown>>,
  usage: OpenAiUsage,
): Record<string, unknown> {
  const head = header(identity, identity.kind === 'chat' ? 'chat.completion' : 'text_completion');
  return { ...head, choices, usage };
}

/** One stream chunk for one choice. `delta` null: the closing chunk carrying only the finish reason. */
export function streamChunk(
  identity: ResponseIdentity,
  index: number,
  delta: ChatDelta | null,
  finishReason: OpenAiFinishReason | null,
  includeUsage: boolean,
  logprobs: Record<string, unknown> | null = null,
): Record<string, unknown> {
  const head = header(identity, identity.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion');
  const choice =
    identity.kind === 'chat'
      ? { index, delta: delta ?? {}, logprobs, finish_reason: finishReason }
      : { text: delta?.content ?? '', index, logprobs, finish_reason: finishReason };
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
