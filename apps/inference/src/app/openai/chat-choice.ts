// What one chat choice becomes for the client: plain content, or tool calls parsed from the model's output (auto),
// forced by a grammar (required: an array of calls; a named function: the output is its arguments). The streaming
// form sends OpenAI's deltas: content as it comes, and per tool call a first delta with index, id, type, name and
// empty arguments, then argument text (a named function's arguments stream as they are generated).
import type { UsageFinishReason } from '@sovren/messaging';

import {
  parseToolCalls,
  toolCallId,
  ToolCallStreamGate,
  type ParsedToolCall,
  type ToolCallFamily,
} from '../chat/tool-calls';
import { openAiFinishReason, type ChatDelta, type OpenAiFinishReason, type OpenAiToolCall } from './openai-responses';

export type ToolMode =
  | { kind: 'off' }
  | { kind: 'auto'; names: ReadonlySet<string> }
  | { kind: 'required'; names: ReadonlySet<string> }
  | { kind: 'named'; name: string };

export interface ChatChoiceResult {
  content: string | null;
  toolCalls: OpenAiToolCall[];
  finishReason: OpenAiFinishReason;
}

/** A finished choice's message and finish reason. */
export function chatChoiceResult(
  text: string,
  reason: UsageFinishReason,
  mode: ToolMode,
  family: ToolCallFamily,
): ChatChoiceResult {
  const finished = reason === 'stop';
  const plain: ChatChoiceResult = { content: text, toolCalls: [], finishReason: openAiFinishReason(reason) };
  switch (mode.kind) {
    case 'off':
      return plain;
    case 'named':
      return {
        content: null,
        toolCalls: [withId({ name: mode.name, arguments: text })],
        finishReason: finished ? 'tool_calls' : 'length',
      };
    case 'auto':
    case 'required': {
      if (!finished) return plain;
      const parsed = parseToolCalls(text, mode.kind === 'required' ? 'generic' : family, mode.names);
      if (parsed.calls.length === 0) return plain;
      return { content: parsed.content, toolCalls: parsed.calls.map(withId), finishReason: 'tool_calls' };
    }
  }
}

function withId(call: ParsedToolCall): OpenAiToolCall {
  return { id: toolCallId(), type: 'function', function: { name: call.name, arguments: call.arguments } };
}

/** A streamed choice: turns generated text into the deltas to send, and the end into the last deltas. */
export class ChatChoiceStream {
  private text = '';
  private readonly gate: ToolCallStreamGate | undefined;
  private namedOpened = false;

  constructor(
    private readonly mode: ToolMode,
    private readonly family: ToolCallFamily,
  ) {
    if (mode.kind === 'auto') this.gate = new ToolCallStreamGate(family);
  }

  push(delta: string): ChatDelta[] {
    this.text += delta;
    switch (this.mode.kind) {
      case 'off':
        return [{ content: delta }];
      case 'required':
        return [];
      case 'named': {
        const out: ChatDelta[] = [];
        if (!this.namedOpened) {
          this.namedOpened = true;
          out.push(openingDelta(0, { id: toolCallId(), name: this.mode.name }));
        }
        out.push({ tool_calls: [{ index: 0, function: { arguments: delta } }] });
        return out;
      }
      case 'auto': {
        const content = this.gate?.push(delta) ?? delta;
        return content === '' ? [] : [{ content }];
      }
    }
  }

  /** The deltas that close the choice, and its finish reason. */
  finish(reason: UsageFinishReason): { deltas: ChatDelta[]; finishReason: OpenAiFinishReason } {
    const finished = reason === 'stop';
    switch (this.mode.kind) {
      case 'off':
        return { deltas: [], finishReason: openAiFinishReason(reason) };
      case 'named': {
        const deltas = this.namedOpened ? [] : [openingDelta(0, { id: toolCallId(), name: this.mode.name })];
        return { deltas, finishReason: finished ? 'tool_calls' : 'length' };
      }
      case 'required': {
        const result = chatChoiceResult(this.text, reason, this.mode, this.family);
        if (result.toolCalls.length === 0) {
          return { deltas: this.text === '' ? [] : [{ content: this.text }], finishReason: result.finishReason };
        }
        return { deltas: callDeltas(result.toolCalls), finishReason: result.finishReason };
      }
      case 'auto': {
        const gate = this.gate;
        if (!gate?.capturingToolCall) {
          const rest = gate?.flush() ?? '';
          return { deltas: rest === '' ? [] : [{ content: rest }], finishReason: openAiFinishReason(reason) };
        }
        const result = chatChoiceResult(this.text, reason, this.mode, this.family);
        if (result.toolCalls.length === 0) {
          // Looked like a call, was not one: the held text goes out as content after all.
          const held = this.text.slice(this.sentContentLength());
          return { deltas: held === '' ? [] : [{ content: held }], finishReason: result.finishReason };
        }
        return { deltas: callDeltas(result.toolCalls), finishReason: result.finishReason };
      }
    }
  }

  /** How much of the text the gate already let through as content. */
  private sentContentLength(): number {
    return this.gate?.passedLength ?? 0;
  }
}

function openingDelta(index: number, call: { id: string; name: string }): ChatDelta {
  return { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] };
}

function callDeltas(calls: readonly OpenAiToolCall[]): ChatDelta[] {
  const out: ChatDelta[] = [];
  calls.forEach((call, index) => {
    out.push(openingDelta(index, { id: call.id, name: call.function.name }));
    out.push({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] });
  });
  return out;
}
