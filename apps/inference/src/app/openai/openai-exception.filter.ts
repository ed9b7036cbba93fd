// Answers errors on the OpenAI-compatible /v1 routes in OpenAI's shape (see openai-error.mapper.ts) instead of
// the platform envelope. Controller-scoped, so it also sees the guard's and the validation pipe's errors.
import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { RequestWithId } from '@sovren/http';
import type { ServerResponse } from 'node:http';
import { throwError } from 'rxjs';

import { openAiErrorOf } from './openai-error.mapper';

@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(OpenAiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return throwError(() => exception);
    const http = host.switchToHttp();
    const req = http.getRequest<RequestWithId>();
    const res = http.getResponse<ServerResponse>();
    writeOpenAiError(res, exception, this.logger, {
      method: req.method,
      path: req.url?.split('?')[0],
      request_id: req.requestId,
    });
    return undefined;
  }
}

/** Writes the OpenAI-shaped error for `exception` (or cuts a response that has already started). */
export function writeOpenAiError(
  res: ServerResponse,
  exception: unknown,
  logger: Logger,
  context: Record<string, unknown>,
): void {
  const answer = openAiErrorOf(exception);
  if (answer.unexpected) {
    logger.error({
      msg: 'request failed',
      ...context,
      status: answer.status,
      err: exception instanceof Error ? exception : String(exception),
    });
  } else if (answer.status >= 500) {
    logger.warn({ msg: `request answered ${answer.status}: ${answer.body.error.message}`, ...context });
  }
  if (res.headersSent) {
    logger.warn({ msg: 'response already started; closing the connection', ...context });
    res.destroy();
    return;
  }
  res.statusCode = answer.status;
  if (answer.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(answer.retryAfterSeconds));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(answer.body));
}
