// The one way every SOVREN app sets up HTTP: request ids, validation, the envelope and the error filter.
import { INestApplication } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

import { ApiExceptionFilter } from './api-exception.filter';
import { RequestIdMiddleware } from './request-id.middleware';
import { ResponseEnvelopeInterceptor } from './response-envelope.interceptor';
import { createValidationPipe } from './validation.pipe';

/**
 * Installs the HTTP platform globally. Call it before `app.init()` / `app.listen()`: the request-id middleware
 * must be registered ahead of Nest's body parsers and routes so that everything after it sees the request id.
 */
export function applyHttpPlatform(app: INestApplication): void {
  const adapter = app.getHttpAdapter().getType();
  if (adapter !== 'express') {
    throw new Error(`applyHttpPlatform needs the Express HTTP adapter (the app uses "${adapter}")`);
  }
  const requestIds = new RequestIdMiddleware();
  app.use(requestIds.use.bind(requestIds));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalInterceptors(new ResponseEnvelopeInterceptor(app.get(Reflector)));
  app.useGlobalFilters(new ApiExceptionFilter());
}
