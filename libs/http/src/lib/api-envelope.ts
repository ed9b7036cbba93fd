// The response shapes of every /api/v1 route: the success and error envelopes and their shared meta.
import { IncomingMessage } from 'node:http';

import { currentRequestId } from '@sovren/observability';

import { ApiErrorCode } from './api-error-code';

export const API_VERSION = 'v1';

export interface ApiMeta {
  timestamp: string;
  version: typeof API_VERSION;
  request_id: string | null;
}

export interface ApiSuccessEnvelope<T> {
  success: true;
  data: T;
  meta: ApiMeta;
}

export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  details: unknown;
}

export interface ApiErrorEnvelope {
  success: false;
  error: ApiErrorBody;
  meta: ApiMeta;
}

/** Set on the request by RequestIdMiddleware. */
export type RequestWithId = IncomingMessage & { requestId?: string };

export function apiMeta(req?: RequestWithId): ApiMeta {
  return {
    timestamp: new Date().toISOString(),
    version: API_VERSION,
    request_id: req?.requestId ?? currentRequestId() ?? null,
  };
}
