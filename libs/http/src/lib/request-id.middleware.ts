// Gives every request an id: the caller's X-Request-Id when it is well-formed, a fresh UUID otherwise. The id
// is echoed in the response header, and the rest of the request runs inside the observability request
// context, so every log line written while serving it carries request_id.
import { Injectable, NestMiddleware } from '@nestjs/common';
import { runWithRequestId } from '@sovren/observability';
import { randomUUID } from 'node:crypto';
import { ServerResponse } from 'node:http';

import { RequestWithId } from './api-envelope';

export const REQUEST_ID_HEADER = 'X-Request-Id';

// Bounded and log-safe: no spaces, quotes or control characters can reach a log line or a header.
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

export function isValidRequestId(value: unknown): value is string {
  return typeof value === 'string' && VALID_REQUEST_ID.test(value);
}

@Injectable()
export class RequestIdMiddleware implements NestMiddleware {
  use(req: RequestWithId, res: ServerResponse, next: (error?: unknown) => void): void {
    const incoming = req.headers['x-request-id'];
    const requestId = isValidRequestId(incoming) ? incoming : randomUUID();
    req.requestId = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    runWithRequestId(requestId, () => next());
  }
}
