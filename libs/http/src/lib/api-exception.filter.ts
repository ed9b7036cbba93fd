// Turns every error thrown while serving an HTTP request into the error envelope with the right status.
// Unknown errors become a generic 500: their message and stack go to the log (with request_id), never out.
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { ServerResponse } from 'node:http';
import { throwError } from 'rxjs';

import { ApiErrorBody, apiMeta, ApiErrorEnvelope, RequestWithId } from './api-envelope';
import { ApiError } from './api-error';
import { ApiErrorCode, codeForHttpStatus } from './api-error-code';

export const INTERNAL_ERROR_MESSAGE = 'An internal error occurred; quote the request_id when reporting it.';

interface DescribedError {
  status: number;
  body: ApiErrorBody;
  /**
   * error: an unexpected fault, logged with its stack. warn: a deliberate 5xx (a 503 while NATS is down) that
   * must not flood the log with stacks on every probe. none: a client mistake.
   */
  log: 'error' | 'warn' | 'none';
}

@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): unknown {
    // Only HTTP answers with an envelope; an RPC context (a NATS handler inheriting app config) gets its error
    // back as an Observable error, as Nest's RPC filters expect.
    if (host.getType() !== 'http') return throwError(() => exception);

    const http = host.switchToHttp();
    const req = http.getRequest<RequestWithId>();
    const res = http.getResponse<ServerResponse>();
    const described = describe(exception);
    const context = {
      method: req.method,
      path: req.url?.split('?')[0],
      status: described.status,
      request_id: req.requestId,
    };
    if (described.log === 'error') {
      const err = exception instanceof Error ? exception : new Error(`non-Error thrown: ${String(exception)}`);
      this.logger.error({ msg: 'request failed', ...context, err });
    } else if (described.log === 'warn') {
      this.logger.warn({ msg: `request answered ${described.status}: ${described.body.message}`, ...context });
    }
    if (res.headersSent) {
      // Part of the body is already out (a stream failed mid-way): the only honest signal left is to cut it.
      this.logger.warn({ msg: 'response already started; closing the connection', request_id: req.requestId });
      res.destroy();
      return undefined;
    }
    const envelope: ApiErrorEnvelope = { success: false, error: described.body, meta: apiMeta(req) };
    res.statusCode = described.status;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(envelope));
    return undefined;
  }
}

function describe(exception: unknown): DescribedError {
  if (exception instanceof ApiError) {
    const status = exception.getStatus();
    return {
      status,
      body: { code: exception.code, message: exception.message, details: exception.details ?? null },
      log: status >= 500 ? 'warn' : 'none',
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    return {
      status,
      body: { code: codeForHttpStatus(status), message: messageOf(exception), details: null },
      log: status >= 500 ? 'warn' : 'none',
    };
  }
  // Errors from Express middleware (body too large, bad charset) carry a client status and a safe message.
  const clientError = exposedClientError(exception);
  if (clientError) {
    return {
      status: clientError.status,
      body: { code: codeForHttpStatus(clientError.status), message: clientError.message, details: null },
      log: 'none',
    };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    body: { code: ApiErrorCode.INTERNAL, message: INTERNAL_ERROR_MESSAGE, details: null },
    log: 'error',
  };
}

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return exception.message;
}

function exposedClientError(exception: unknown): { status: number; message: string } | undefined {
  if (!(exception instanceof Error)) return undefined;
  const { status, expose } = exception as Error & { status?: unknown; expose?: unknown };
  if (expose === true && typeof status === 'number' && status >= 400 && status < 500) {
    return { status, message: exception.message };
  }
  return undefined;
}
