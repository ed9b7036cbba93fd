// Turns chat messages into the prompt text a model was trained on: the model's own Jinja chat template from the
// GGUF (`tokenizer.chat_template`), rendered with @huggingface/jinja. A model without a template, or whose
// template fails to compile or render, falls back to ChatML (the reason is logged once per model).
import { Logger } from '@nestjs/common';
import { Template } from '@huggingface/jinja';
import { errorMessage } from '@sovren/resilience';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface RenderedChat {
  text: string;
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
    const context = {
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      bos_token: this.bosToken,
      eos_token: this.eosToken,
      add_generation_prompt: true,
    };
    if (this.template) {
      try {
        return { text: this.template.render(context), template: 'model' };
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
    return { text: fallback.render(context), template: 'fallback' };
  }
}
