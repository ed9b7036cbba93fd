// Text generation for other services on `inference.generate` (INFERENCE_GENERATE): the request carries the same
// parameters as the OpenAI-compatible HTTP API plus the owner to bill and a stream subject. The service replies at
// once (accepted, with the subject that cancels the request, or refused), then publishes InferenceGenerateChunkV1
// messages (only when `stream` is true) and exactly one InferenceGenerateFinalV1 to the stream subject.

import { ContractFieldReader } from './contract-field.reader';

export const INFERENCE_CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type InferenceChatRole = (typeof INFERENCE_CHAT_ROLES)[number];

export const INFERENCE_FINISH_REASONS = ['stop', 'length', 'cancelled', 'error'] as const;
export type InferenceFinishReason = (typeof INFERENCE_FINISH_REASONS)[number];

/** At most this many stop strings per request, as in the OpenAI API. */
export const INFERENCE_MAX_STOP_STRINGS = 4;

export interface InferenceChatMessageV1 {
  role: InferenceChatRole;
  content: string;
}

/** At most this many tools per request, and their names' shape (OpenAI's function names). */
export const INFERENCE_MAX_TOOLS = 32;
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A function the model may call (chat requests): rendered by the model's chat template. */
export interface InferenceToolV1 {
  name: string;
  description?: string;
  /** JSON Schema of the arguments (an object schema). */
  parameters?: Record<string, unknown>;
}

/** A call the model made: `arguments` is JSON text of an object. */
export interface InferenceToolCallV1 {
  id: string;
  name: string;
  arguments: string;
}

export interface InferenceGenerateRequestV1 {
  v: 1;
  /** Caller's id for this request (one NATS subject token); also the usage event's requestId. */
  requestId: string;
  /** Account billed for the tokens (user or organisation id). */
  ownerId: string;
  keyId?: string;
  model: string;
  /** Chat request: rendered with the model's chat template. Exactly one of messages / prompt. */
  messages?: InferenceChatMessageV1[];
  /** Completion request: the raw prompt text. */
  prompt?: string;
  /** Where chunks and the final message are published (the caller subscribes before sending the request). */
  streamSubject: string;
  /** true: token chunks as they are generated, then the final message; false: the final message only. */
  stream: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  seed?: number;
  stop?: string[];
  /** Chat: functions the model may call; the final message carries the calls it made. */
  tools?: InferenceToolV1[];
  /** `auto` (default with tools): the model decides; `required`: it must call (grammar-constrained); `none`. */
  toolChoice?: 'auto' | 'required' | 'none';
}

export interface InferenceGenerateAcceptedV1 {
  v: 1;
  accepted: true;
  requestId: string;
  promptTokens: number;
  /** Publish anything here to cancel the request; it then ends with finishReason `cancelled`. */
  cancelSubject: string;
}

export interface InferenceGenerateRefusedV1 {
  v: 1;
  accepted: false;
  requestId: string;
  /** Same codes as the HTTP API's error `code` (`model_not_found`, `context_length_exceeded`, `queue_full`…). */
  error: { code: string; message: string };
}

export type InferenceGenerateReplyV1 = InferenceGenerateAcceptedV1 | InferenceGenerateRefusedV1;

export interface InferenceGenerateChunkV1 {
  v: 1;
  type: 'chunk';
  requestId: string;
  /** 0, 1, 2… so a consumer can notice a lost message. */
  index: number;
  text: string;
}

export interface InferenceGenerateFinalV1 {
  v: 1;
  type: 'final';
  requestId: string;
  /** The whole generated text (without a matched stop string). */
  text: string;
  finishReason: InferenceFinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Set when finishReason is `error`. */
  error?: { code: string; message: string };
  /** The tool calls in the output (requests with tools); `text` is then the text around them. */
  toolCalls?: InferenceToolCallV1[];
}

export type InferenceGenerateStreamMessageV1 = InferenceGenerateChunkV1 | InferenceGenerateFinalV1;

/** Arrays and booleans are not among the shared reader's getters; these keep the same error shape. */
function booleanField(r: ContractFieldReader, raw: Record<string, unknown>, field: string): boolean {
  const value = raw[field];
  if (typeof value !== 'boolean') r.fail(field, 'must be true or false');
  return value;
}

function optionalStringArray(
  r: ContractFieldReader,
  raw: Record<string, unknown>,
  field: string,
  maxItems: number,
): string[] | undefined {
  const value = raw[field];
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.length > maxItems ||
    value.some((item) => typeof item !== 'string' || item.length === 0)
  ) {
    r.fail(field, `must be an array of at most ${maxItems} non-empty strings`);
  }
  return value as string[];
}

function parseMessages(r: ContractFieldReader, value: unknown): InferenceChatMessageV1[] {
  if (!Array.isArray(value) || value.length === 0) r.fail('messages', 'must be a non-empty array');
  return value.map((item, index) => {
    const m: ContractFieldReader = new ContractFieldReader(`InferenceGenerateRequestV1.messages[${index}]`, item);
    const content = (item as Record<string, unknown>)['content'];
    if (typeof content !== 'string') m.fail('content', 'must be a string');
    return { role: m.oneOf('role', INFERENCE_CHAT_ROLES), content };
  });
}

const SAMPLING_FIELDS = ['temperature', 'topP', 'minP', 'frequencyPenalty', 'presencePenalty'] as const;

export function parseInferenceGenerateRequestV1(raw: unknown): InferenceGenerateRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceGenerateRequestV1', raw);
  const record = raw as Record<string, unknown>;
  const request: InferenceGenerateRequestV1 = {
    v: r.version(1),
    requestId: r.string('requestId', 128),
    ownerId: r.string('ownerId', 128),
    model: r.string('model', 256),
    streamSubject: r.string('streamSubject', 256),
    stream: booleanField(r, record, 'stream'),
  };
  if (/[*>\s]/.test(request.streamSubject)) r.fail('streamSubject', 'must not contain wildcards or whitespace');
  if (/[.*>\s]/.test(request.requestId)) r.fail('requestId', "must not contain '.', '*', '>' or whitespace");
  const keyId = r.optionalString('keyId', 128);
  if (keyId !== undefined) request.keyId = keyId;
  if ((record['messages'] === undefined) === (record['prompt'] === undefined)) {
    r.fail('messages', 'exactly one of messages and prompt must be given');
  }
  if (record['messages'] !== undefined) request.messages = parseMessages(r, record['messages']);
  else if (typeof record['prompt'] !== 'string') r.fail('prompt', 'must be a string');
  else request.prompt = record['prompt'];
  const maxTokens = r.optionalNumber('maxTokens', { min: 1, integer: true });
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  for (const field of SAMPLING_FIELDS) {
    const value = r.optionalNumber(field);
    if (value !== undefined) request[field] = value;
  }
  const topK = r.optionalNumber('topK', { min: 0, integer: true });
  if (topK !== undefined) request.topK = topK;
  const seed = r.optionalNumber('seed', { integer: true });
  if (seed !== undefined) request.seed = seed;
  const stop = optionalStringArray(r, record, 'stop', INFERENCE_MAX_STOP_STRINGS);
  if (stop !== undefined) request.stop = stop;
  if (record['tools'] !== undefined) {
    if (request.messages === undefined) r.fail('tools', 'are only allowed with messages');
    request.tools = parseTools(r, record['tools']);
  }
  if (record['toolChoice'] !== undefined) {
    if (request.tools === undefined) r.fail('toolChoice', 'is only allowed with tools');
    request.toolChoice = r.oneOf('toolChoice', ['auto', 'required', 'none'] as const);
  }
  return request;
}

function parseTools(r: ContractFieldReader, value: unknown): InferenceToolV1[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > INFERENCE_MAX_TOOLS) {
    r.fail('tools', `must be an array of 1 to ${INFERENCE_MAX_TOOLS} tools`);
  }
  const names = new Set<string>();
  return value.map((item, index) => {
    const t: ContractFieldReader = new ContractFieldReader(`InferenceGenerateRequestV1.tools[${index}]`, item);
    const tool: InferenceToolV1 = { name: t.string('name', 64) };
    if (!TOOL_NAME.test(tool.name)) t.fail('name', 'must be 1-64 letters, digits, _ or -');
    if (names.has(tool.name)) t.fail('name', `${tool.name} is given twice`);
    names.add(tool.name);
    const description = t.optionalString('description', 4096);
    if (description !== undefined) tool.description = description;
    const parameters = t.optionalObject('parameters');
    if (parameters !== undefined) tool.parameters = parameters;
    return tool;
  });
}

export function parseInferenceGenerateReplyV1(raw: unknown): InferenceGenerateReplyV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceGenerateReplyV1', raw);
  const record = raw as Record<string, unknown>;
  const v = r.version(1);
  const requestId = r.string('requestId', 128);
  if (booleanField(r, record, 'accepted')) {
    return {
      v,
      accepted: true,
      requestId,
      promptTokens: r.number('promptTokens', { min: 0, integer: true }),
      cancelSubject: r.string('cancelSubject', 256),
    };
  }
  return { v, accepted: false, requestId, error: parseError(r.object('error'), 'InferenceGenerateRefusedV1.error') };
}

function parseError(raw: Record<string, unknown>, contract: string): { code: string; message: string } {
  const e: ContractFieldReader = new ContractFieldReader(contract, raw);
  return { code: e.string('code', 64), message: e.string('message', 2048) };
}

export function parseInferenceGenerateStreamMessageV1(raw: unknown): InferenceGenerateStreamMessageV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceGenerateStreamMessageV1', raw);
  const v = r.version(1);
  const type = r.oneOf('type', ['chunk', 'final'] as const);
  const requestId = r.string('requestId', 128);
  const text = (raw as Record<string, unknown>)['text'];
  if (typeof text !== 'string') r.fail('text', 'must be a string');
  if (type === 'chunk') {
    return { v, type, requestId, index: r.number('index', { min: 0, integer: true }), text };
  }
  const final: InferenceGenerateFinalV1 = {
    v,
    type,
    requestId,
    text,
    finishReason: r.oneOf('finishReason', INFERENCE_FINISH_REASONS),
    promptTokens: r.number('promptTokens', { min: 0, integer: true }),
    completionTokens: r.number('completionTokens', { min: 0, integer: true }),
  };
  const error = r.optionalObject('error');
  if (error !== undefined) final.error = parseError(error, 'InferenceGenerateFinalV1.error');
  const toolCalls = (raw as Record<string, unknown>)['toolCalls'];
  if (toolCalls !== undefined) {
    if (!Array.isArray(toolCalls) || toolCalls.length > INFERENCE_MAX_TOOLS) {
      r.fail('toolCalls', `must be an array of at most ${INFERENCE_MAX_TOOLS} calls`);
    }
    final.toolCalls = toolCalls.map((item: unknown, index: number) => {
      const c: ContractFieldReader = new ContractFieldReader(`InferenceGenerateFinalV1.toolCalls[${index}]`, item);
      return { id: c.string('id', 64), name: c.string('name', 64), arguments: c.string('arguments', 1 << 16) };
    });
  }
  return final;
}
