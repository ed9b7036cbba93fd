// Tool calls in model output: which format a model writes (from its chat template), parsing a finished output into
// OpenAI's `tool_calls` (Llama 3.x JSON, Qwen2.5/Hermes `<tool_call>` tags, Mistral `[TOOL_CALLS]`, a generic JSON
// fallback), a gate that holds streamed text back while it may still turn into a tool call, and the schema forced
// tool choices are constrained to.
import { randomBytes } from 'node:crypto';

import type { ChatTool } from './chat-template.renderer';

export type ToolCallFamily = 'hermes' | 'mistral' | 'llama3' | 'generic';

export interface ParsedToolCall {
  name: string;
  /** The arguments as JSON text (an object). */
  arguments: string;
}

export interface ParsedOutput {
  /** Text outside the tool calls; null when there is none (OpenAI sends `content: null` next to tool calls). */
  content: string | null;
  calls: ParsedToolCall[];
}

/** The tool-call format a model was trained on, told by its chat template. */
export function toolCallFamily(template: string | null): ToolCallFamily {
  if (!template) return 'generic';
  if (template.includes('<tool_call>')) return 'hermes';
  if (template.includes('[TOOL_CALLS]')) return 'mistral';
  if (template.includes('<|python_tag|>') || (template.includes('<|start_header_id|>') && template.includes('tools')))
    return 'llama3';
  return 'generic';
}

/** OpenAI's id shape: `call_` and 24 letters and digits. */
export function toolCallId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `call_${[...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/**
 * The tool calls in a finished output, in the model family's format (or the generic one); only calls of declared
 * functions with an object of arguments count. Without any, the whole text is content.
 */
export function parseToolCalls(text: string, family: ToolCallFamily, toolNames: ReadonlySet<string>): ParsedOutput {
  const parsers: Array<(t: string) => ParsedOutput | undefined> = [];
  if (family === 'hermes') parsers.push(parseHermes);
  if (family === 'mistral') parsers.push(parseMistral);
  if (family === 'llama3') parsers.push(parseWholeJson);
  parsers.push(parseHermes, parseWholeJson);
  for (const parse of parsers) {
    const parsed = parse(text);
    if (parsed && parsed.calls.length > 0 && parsed.calls.every((c) => toolNames.has(c.name))) return parsed;
  }
  return { content: text, calls: [] };
}

/** `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, any number, text around them is content. */
function parseHermes(text: string): ParsedOutput | undefined {
  const re = /<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g;
  const calls: ParsedToolCall[] = [];
  let content = '';
  let last = 0;
  for (const match of text.matchAll(re)) {
    const call = callOf(parseJson(match[1]));
    if (!call) return undefined;
    calls.push(call);
    content += text.slice(last, match.index);
    last = match.index + match[0].length;
  }
  if (calls.length === 0) return undefined;
  content += text.slice(last);
  return { content: content.trim() === '' ? null : content.trim(), calls };
}

/** `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]`, or the v11 form `[TOOL_CALLS]name[ARGS]{…}`. */
function parseMistral(text: string): ParsedOutput | undefined {
  const at = text.indexOf('[TOOL_CALLS]');
  if (at < 0) return undefined;
  const before = text.slice(0, at).trim();
  const rest = text.slice(at + '[TOOL_CALLS]'.length).trim();
  let calls: ParsedToolCall[] | undefined;
  if (rest.startsWith('[') || rest.startsWith('{')) calls = callsOf(parseJson(rest));
  else {
    calls = [];
    for (const part of rest.split('[TOOL_CALLS]')) {
      const m = /^\s*([A-Za-z0-9_.-]+)\s*\[ARGS\]\s*([\s\S]*)$/.exec(part);
      const args = m ? parseJson(m[2]) : undefined;
      if (!m || !isObject(args)) return undefined;
      calls.push({ name: m[1], arguments: JSON.stringify(args) });
    }
  }
  if (!calls) return undefined;
  return { content: before === '' ? null : before, calls };
}

/**
 * The whole output is the call(s): Llama 3.x's `{"name": …, "parameters": {…}}` (after an optional
 * `<|python_tag|>`, several separated by `;`), an array of calls, `{"tool_calls": […]}`, or any of these in a
 * ```json fence.
 */
function parseWholeJson(text: string): ParsedOutput | undefined {
  let body = text
    .trim()
    .replace(/^<\|python_tag\|>/, '')
    .trim();
  const fence = /^```(?:json)?\s*([\s\S]*?)\s*```$/.exec(body);
  if (fence) body = fence[1];
  const whole = parseJson(body);
  let calls = callsOf(whole);
  if (!calls && body.includes(';')) {
    const parts = body.split(/;\s*(?=\{)/).map((p) => callOf(parseJson(p)));
    if (parts.every((p) => p !== undefined)) calls = parts as ParsedToolCall[];
  }
  return calls ? { content: null, calls } : undefined;
}

function callsOf(value: unknown): ParsedToolCall[] | undefined {
  if (isObject(value) && Array.isArray(value['tool_calls'])) return callsOf(value['tool_calls']);
  if (Array.isArray(value)) {
    const calls = value.map(callOf);
    return calls.length > 0 && calls.every((c) => c !== undefined) ? (calls as ParsedToolCall[]) : undefined;
  }
  const one = callOf(value);
  return one ? [one] : undefined;
}

function callOf(value: unknown): ParsedToolCall | undefined {
  if (!isObject(value)) return undefined;
  const fn = isObject(value['function']) ? value['function'] : value;
  const name = fn['name'];
  let args: unknown = fn['arguments'] ?? fn['parameters'] ?? {};
  if (typeof args === 'string') args = parseJson(args);
  if (typeof name !== 'string' || !isObject(args)) return undefined;
  return { name, arguments: JSON.stringify(args) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: not a tool call; the caller treats the text as content.
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Text that begins a tool call in each family's format. */
const MARKERS: Record<ToolCallFamily, { anywhere: string[]; atStart: string[] }> = {
  hermes: { anywhere: ['<tool_call>'], atStart: ['{', '['] },
  mistral: { anywhere: ['[TOOL_CALLS]'], atStart: ['{', '['] },
  llama3: { anywhere: ['<|python_tag|>'], atStart: ['{', '[', '```'] },
  generic: { anywhere: ['<tool_call>'], atStart: ['{', '[', '```'] },
};

/**
 * Streaming with tools: text passes through until it may be a tool call (a marker, or JSON at the very start);
 * from there on it is held for the parser at the end. A possible beginning of a marker is held until the next
 * text decides it, like a stop string.
 */
export class ToolCallStreamGate {
  private seen = '';
  private held = '';
  private capturing = false;
  private passed = 0;

  constructor(private readonly family: ToolCallFamily) {}

  /** Characters already let through as content. */
  get passedLength(): number {
    return this.passed;
  }

  /** True once the output turned into a tool call: the rest is only parsed at the end. */
  get capturingToolCall(): boolean {
    return this.capturing;
  }

  /** Takes streamed text; returns the text that is safe to send as content now. */
  push(delta: string): string {
    if (this.capturing) {
      this.seen += delta;
      return '';
    }
    this.held += delta;
    const markers = MARKERS[this.family];
    const leading = this.seen === '' ? this.held.trimStart() : undefined;
    if (leading !== undefined) {
      if (leading === '') return '';
      for (const m of markers.atStart) {
        if (leading.startsWith(m)) return this.capture();
        if (m.startsWith(leading)) return '';
      }
    }
    for (const m of markers.anywhere) {
      const at = this.held.indexOf(m);
      if (at >= 0) {
        const before = this.held.slice(0, at);
        this.seen += before;
        this.held = this.held.slice(at);
        this.capture();
        this.passed += before.length;
        return before;
      }
    }
    // Hold a tail that could be the beginning of a marker.
    let keep = 0;
    for (const m of markers.anywhere) {
      for (let n = Math.min(m.length - 1, this.held.length); n > keep; n--) {
        if (this.held.endsWith(m.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    this.seen += out;
    this.passed += out.length;
    return out;
  }

  /** At the end: the text still held (when the output never became a tool call). */
  flush(): string {
    if (this.capturing) return '';
    const out = this.held;
    this.held = '';
    this.seen += out;
    this.passed += out.length;
    return out;
  }

  private capture(): string {
    this.capturing = true;
    this.seen += this.held;
    this.held = '';
    return '';
  }
}

/** Forced `tool_choice: "required"`: an array of calls of declared functions, each with schema-valid arguments. */
export function requiredToolCallsSchema(tools: readonly ChatTool[], parallel: boolean): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const variants = tools.map((tool) => {
    const parameters = hoistDefs(tool.function.parameters ?? { type: 'object' }, defs, tool.function.name);
    return {
      type: 'object',
      properties: { name: { const: tool.function.name }, arguments: parameters },
      required: ['name', 'arguments'],
      additionalProperties: false,
    };
  });
  const schema: Record<string, unknown> = {
    type: 'array',
    items: variants.length === 1 ? variants[0] : { anyOf: variants },
    minItems: 1,
    maxItems: parallel ? MAX_PARALLEL_TOOL_CALLS : 1,
  };
  if (Object.keys(defs).length > 0) schema['$defs'] = defs;
  return schema;
}

/** Calls one forced answer may hold with parallel_tool_calls. */
export const MAX_PARALLEL_TOOL_CALLS = 8;

/** Moves a tool's own $defs under the combined schema's $defs (prefixed by the tool name) and rewrites its refs. */
function hoistDefs(
  schema: Record<string, unknown>,
  defs: Record<string, unknown>,
  tool: string,
): Record<string, unknown> {
  const own = schema['$defs'] ?? schema['definitions'];
  if (!isObject(own)) return schema;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!isObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === '$defs' || k === 'definitions') continue;
      out[k] =
        k === '$ref' && typeof v === 'string'
          ? v.replace(/^#\/(\$defs|definitions)\//, `#/$defs/${tool}.`)
          : rewrite(v);
    }
    return out;
  };
  for (const [name, def] of Object.entries(own)) defs[`${tool}.${name}`] = rewrite(def);
  return rewrite(schema) as Record<string, unknown>;
}
