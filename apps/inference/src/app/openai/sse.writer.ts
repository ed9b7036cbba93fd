// Server-sent events exactly as OpenAI sends them: `data: <json>\n\n` per chunk and `data: [DONE]\n\n` at the end.
import type { ServerResponse } from 'node:http';

export class SseWriter {
  private opened = false;

  constructor(private readonly res: ServerResponse) {}

  get closed(): boolean {
    return this.res.writableEnded || this.res.destroyed;
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.statusCode = 200;
    this.res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    this.res.setHeader('Cache-Control', 'no-cache');
    this.res.setHeader('Connection', 'keep-alive');
    // Tells reverse proxies (nginx) not to buffer the stream.
    this.res.setHeader('X-Accel-Buffering', 'no');
    this.res.flushHeaders();
  }

  send(payload: unknown): void {
    if (this.closed) return;
    this.open();
    this.res.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  done(): void {
    if (this.closed) return;
    this.open();
    this.res.end('data: [DONE]\n\n');
  }
}
