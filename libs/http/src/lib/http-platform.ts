// The one way every SOVREN app sets up HTTP: request ids, the JSON body limit, validation, the envelope and the
// error filter.
import { INestApplication } from '@nestjs/common';
import { ModulesContainer, Reflector } from '@nestjs/core';

import { ApiExceptionFilter } from './api-exception.filter';
import { RequestIdMiddleware } from './request-id.middleware';
import { ResponseEnvelopeInterceptor } from './response-envelope.interceptor';
import { createValidationPipe } from './validation.pipe';

/** An app that provides this token (bytes) parses JSON bodies up to that size; larger ones get 413. */
export const JSON_BODY_LIMIT = Symbol('JSON_BODY_LIMIT');
/** Express's own default, for apps that provide no JSON_BODY_LIMIT. */
export const DEFAULT_JSON_BODY_LIMIT = 100 * 1024;

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
  // Registered here, Nest's default JSON parser (100 KiB) is not added again at init.
  (app as INestApplication & JsonBodyParserHost).useBodyParser('json', { limit: jsonBodyLimit(app) });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalInterceptors(new ResponseEnvelopeInterceptor(app.get(Reflector)));
  app.useGlobalFilters(new ApiExceptionFilter());
}

interface JsonBodyParserHost {
  useBodyParser(type: 'json', options: { limit: number }): unknown;
}

function jsonBodyLimit(app: INestApplication): number {
  for (const module of app.get(ModulesContainer).values()) {
    const limit: unknown = module.providers.get(JSON_BODY_LIMIT)?.instance;
    if (typeof limit === 'number') return limit;
  }
  return DEFAULT_JSON_BODY_LIMIT;
}
