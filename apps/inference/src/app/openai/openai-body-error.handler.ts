// Request bodies are parsed by Express before any route matches, so a malformed JSON body on /v1 never reaches
// the controller's filter. This Express error handler, installed after the routes but before Nest's own, answers
// those in OpenAI's shape too; errors elsewhere go on to the platform handler.
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { writeOpenAiError } from './openai-exception.filter';

@Injectable()
export class OpenAiBodyErrorHandler implements OnModuleInit {
  private readonly logger = new Logger(OpenAiBodyErrorHandler.name);

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (!adapter) return;
    adapter.use((error: unknown, req: IncomingMessage, res: ServerResponse, next: (error: unknown) => void) => {
      const path = req.url?.split('?')[0] ?? '';
      if (!path.startsWith('/v1/')) {
        next(error);
        return;
      }
      writeOpenAiError(res, error, this.logger, { method: req.method, path });
    });
  }
}
