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
  content: string;
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
    source: string | null,
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

  render(messages: readonly ChatMessage[]): RenderedChat {
    if (this.template) {
      try {
        return renderSegments(this.template, messages, this.bosToken, this.eosToken, 'model');
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
    return renderSegments(fallback, messages, this.bosToken, this.eosToken, 'fallback');
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
): RenderedChat {
  const context = (contents: readonly string[]) => ({
    messages: messages.map((m, i) => ({ role: m.role, content: contents[i] })),
    bos_token: bosToken,
    eos_token: eosToken,
    add_generation_prompt: true,
  });
  const text = template.render(context(messages.map((m) => m.content)));
  const nonce = randomBytes(8).toString('hex');
  const marked = template.render(context(messages.map((_, i) => `SOVRENCONTENT${nonce}N${i}E`)));
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
