// Turns chat messages into the prompt a model was trained on: the model's own Jinja chat template from the GGUF
// (`tokenizer.chat_template`), rendered with @huggingface/jinja. A model without a template, or whose template
// fails to compile or render, falls back to ChatML (the reason is logged once per model). The result keeps the
// template's text apart from the messages' content, so only the template's markers become control tokens.
import { Logger } from '@nestjs/common';
import { Template } from '@huggingface/jinja';
import { randomBytes } from 'node:crypto';
import { errorMessage } from '@sovren/resilience';

export interface ChatMessage {
  role: string;
  /** null: an assistant turn that only called tools. */
  content: string | null;
  /** An assistant turn's tool calls; `arguments` is the JSON object when it parses (templates apply `tojson`). */
  tool_calls?: ReadonlyArray<{ id: string; type: 'function'; function: { name: string; arguments: unknown } }>;
  /** A tool message: the call it answers. */
  tool_call_id?: string;
  name?: string;
}

/** A function the model may call, as the template sees it (OpenAI's `tools` entries). */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** A piece of the prompt: written by the template (markers allowed) or taken from a message (plain text only). */
export interface PromptSegment {
  text: string;
  source: 'template' | 'content';
}

export interface RenderedChat {
  text: string;
  /** `text` in order, split where message content begins and ends. */
  segments: PromptSegment[];
  /** Which template produced it. */
  template: 'model' | 'fallback';
}

/** ChatML, understood well enough by most instruction-tuned models that ship without a template. */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const fallback = new Template(FALLBACK_CHAT_TEMPLATE);

export class ChatTemplateRenderer {
  private readonly logger: Logger;
  private readonly template: Template | undefined;
  private fallbackLogged = false;

  constructor(
    readonly model: string,
    private readonly source: string | null,
    private readonly bosToken: string,
    private readonly eosToken: string,
  ) {
    this.logger = new Logger(`ChatTemplate:${model}`);
    if (source === null || source.trim() === '') {
      this.logger.log({ msg: 'model has no chat template; using the ChatML fallback', model });
      this.fallbackLogged = true;
      return;
    }
    try {
      this.template = new Template(source);
    } catch (error) {
      this.logger.warn({
        msg: 'chat template does not compile; using the ChatML fallback',
        model,
        err: errorMessage(error),
      });
      this.fallbackLogged = true;
    }
  }

  render(messages: readonly ChatMessage[], tools?: readonly ChatTool[]): RenderedChat {
    if (this.template) {
      try {
        // A template that knows nothing of tools gets them (and past calls) as text, like the fallback.
        if (!this.templateRendersTools && (tools?.length || messages.some((m) => m.tool_calls?.length))) {
          return renderSegments(this.template, withToolsInText(messages, tools), this.bosToken, this.eosToken, 'model');
        }
        return renderSegments(this.template, messages, this.bosToken, this.eosToken, 'model', tools);
      } catch (error) {
        // Templates raise on conversations they do not support (e.g. a system message): still answer.
        // Logged once per model: a client could otherwise flood the log with one bad conversation after another.
        if (!this.fallbackLogged) {
          this.fallbackLogged = true;
          this.logger.warn({
            msg: 'chat template failed to render; using the ChatML fallback',
            model: this.model,
            err: errorMessage(error),
          });
        }
      }
    }
    return renderSegments(fallback, withToolsInText(messages, tools), this.bosToken, this.eosToken, 'fallback');
  }

  /** The model's own template mentions tools (so it renders `tools` and tool calls itself). */
  get templateRendersTools(): boolean {
    return this.template !== undefined && (this.source ?? '').includes('tools');
  }
}

/**
 * Renders twice: with each message's content replaced by a unique placeholder (which shows where content lands
 * in the output), and with the real content (the text itself). The placeholders split the output into template
 * pieces and content; a content piece takes the text the template made of it (templates often trim it) when the
 * real rendering confirms it, else the content as sent. Either way template text never comes from a message.
 */
function renderSegments(
  template: Template,
  messages: readonly ChatMessage[],
  bosToken: string,
  eosToken: string,
  which: RenderedChat['template'],
  tools?: readonly ChatTool[],
): RenderedChat {
  const context = (contents: ReadonlyArray<string | null>) => ({
    messages: messages.map((m, i) => {
      const message: Record<string, unknown> = { role: m.role, content: contents[i] };
      if (m.tool_calls) message['tool_calls'] = m.tool_calls;
      if (m.tool_call_id !== undefined) message['tool_call_id'] = m.tool_call_id;
      if (m.name !== undefined) message['name'] = m.name;
      return message;
    }),
    ...(tools && tools.length > 0 ? { tools } : {}),
    bos_token: bosToken,
    eos_token: eosToken,
    add_generation_prompt: true,
  });
  const text = template.render(context(messages.map((m) => m.content)));
  const nonce = randomBytes(8).toString('hex');
  const marked = template.render(
    context(messages.map((m, i) => (m.content === null ? null : `SOVRENCONTENT${nonce}N${i}E`))),
  );
  const placeholder = new RegExp(`SOVRENCONTENT${nonce}N(\\d+)E`, 'g');
  const pieces: Array<{ text: string; message?: number }> = [];
  let last = 0;
  for (const match of marked.matchAll(placeholder)) {
    pieces.push({ text: marked.slice(last, match.index) });
    pieces.push({ text: '', message: Number(match[1]) });
    last = match.index + match[0].length;
  }
  pieces.push({ text: marked.slice(last) });
  const segments = alignWithRendering(pieces, messages, text) ?? pieces.map((p) => segmentOf(p, messages));
  return {
    text: segments.map((s) => s.text).join(''),
    segments: segments.filter((s) => s.text !== ''),
    template: which,
  };
}

/** The segments whose texts add up to `text` exactly, choosing for each content piece its content, trimmed or not. */
function alignWithRendering(
  pieces: ReadonlyArray<{ text: string; message?: number }>,
  messages: readonly ChatMessage[],
  text: string,
): PromptSegment[] | undefined {
  const segments: PromptSegment[] = [];
  let at = 0;
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (piece.message === undefined) {
      if (!text.startsWith(piece.text, at)) return undefined;
      segments.push({ text: piece.text, source: 'template' });
      at += piece.text.length;
      continue;
    }
    const next = pieces[i + 1]?.text ?? '';
    const content = messages[piece.message]?.content ?? '';
    const candidate = [content, content.trim(), content.trimEnd(), content.trimStart()].find(
      (c) => text.startsWith(c, at) && text.startsWith(next, at + c.length),
    );
    if (candidate === undefined) return undefined;
    segments.push({ text: candidate, source: 'content' });
    at += candidate.length;
  }
  return at === text.length ? segments : undefined;
}

function segmentOf(piece: { text: string; message?: number }, messages: readonly ChatMessage[]): PromptSegment {
  if (piece.message === undefined) return { text: piece.text, source: 'template' };
  return { text: messages[piece.message]?.content ?? '', source: 'content' };
}

/**
 * For the ChatML fallback, which knows nothing of tools: the tool list goes into a system message, tool calls and
 * tool results into plain text, in the Hermes format the generic tool-call parser also reads.
 */
function withToolsInText(messages: readonly ChatMessage[], tools?: readonly ChatTool[]): ChatMessage[] {
  const out: ChatMessage[] = messages.map((m) => {
    if (m.tool_calls && m.tool_calls.length > 0) {
      const calls = m.tool_calls
        .map(
          (c) =>
            `<tool_call>\n${JSON.stringify({ name: c.function.name, arguments: c.function.arguments })}\n</tool_call>`,
        )
        .join('\n');
      return { role: m.role, content: m.content ? `${m.content}\n${calls}` : calls };
    }
    if (m.role === 'tool') return { role: 'tool', content: m.content ?? '' };
    return { role: m.role, content: m.content ?? '' };
  });
  if (tools && tools.length > 0) {
    const list = tools.map((t) => JSON.stringify(t.function)).join('\n');
    out.unshift({
      role: 'system',
      content:
        'You may call these functions. To call one, answer with <tool_call>{"name": <name>, "arguments": <object>}' +
        `</tool_call>.\n<tools>\n${list}\n</tools>`,
    });
  }
  return out;
}
