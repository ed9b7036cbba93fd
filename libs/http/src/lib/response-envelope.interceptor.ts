// Wraps every JSON handler result in { success: true, data, meta }. Routes marked @RawResponse() (metrics,
// OpenAI-compatible shapes), server-sent events, streams, buffers and non-JSON responses pass through as is.
import { CallHandler, ExecutionContext, Injectable, NestInterceptor, StreamableFile } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { RAW_RESPONSE_KEY } from '@sovren/observability';
import { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { map, Observable } from 'rxjs';

import { apiMeta, ApiSuccessEnvelope, RequestWithId } from './api-envelope';

@Injectable()
export class ResponseEnvelopeInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const targets = [context.getHandler(), context.getClass()];
    const raw = this.reflector.getAllAndOverride<boolean | undefined>(RAW_RESPONSE_KEY, targets);
    const sse = this.reflector.get<boolean | undefined>(SSE_METADATA, context.getHandler());
    if (raw === true || sse === true) return next.handle();

    const http = context.switchToHttp();
    const req = http.getRequest<RequestWithId>();
    const res = http.getResponse<ServerResponse>();
    return next.handle().pipe(map((data: unknown) => (isEnvelopable(data, res) ? envelope(data, req) : data)));
  }
}

function envelope<T>(data: T, req: RequestWithId): ApiSuccessEnvelope<T | null> {
  return { success: true, data: data === undefined ? null : data, meta: apiMeta(req) };
}

function isEnvelopable(data: unknown, res: ServerResponse): boolean {
  if (data instanceof StreamableFile || data instanceof Readable || Buffer.isBuffer(data)) return false;
  // The handler wrote the response itself (@Res()), or chose a non-JSON content type.
  if (res.headersSent) return false;
  const contentType = res.getHeader('content-type');
  return contentType === undefined || String(contentType).includes('json');
}
