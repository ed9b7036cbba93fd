// THE outbound HTTP client of the platform: everything that leaves the machine goes through request(). It
// refuses, before any connection, every URL that is not http(s) to a host on SOVREN_EGRESS_ALLOWLIST, with a
// clear error, a warn line and sovren_egress_refused_total. Header values (API keys) are never logged, and
// neither are paths or query strings (they may carry tokens): log lines name the host only.
import { Injectable, Logger } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { MetricsService } from '@sovren/observability';
import { Counter, Histogram } from 'prom-client';
import { errorMessage } from '@sovren/resilience';

import { EgressAllowlist } from './egress-allowlist';
import { EgressError, EgressErrorCode, EgressRefusedError } from './egress.errors';
import { EgressResponse } from './egress.response';

export const DEFAULT_EGRESS_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export interface EgressRequestInit {
  method?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON (with Content-Type: application/json unless a content type is given). */
  body?: string | Buffer | object;
  /** Covers connecting, sending and receiving the whole body. */
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export type EgressOutcome =
  | 'success'
  | 'client_error'
  | 'server_error'
  | 'refused'
  | 'timeout'
  | 'network_error'
  | 'too_large';

const ALLOWED_SCHEMES = new Set(['http:', 'https:']);
const UNPARSEABLE_HOST = 'invalid-url';

@Injectable()
export class EgressClient {
  private readonly logger = new Logger(EgressClient.name);
  private readonly allowlist: EgressAllowlist;
  private readonly requests: Counter<'host' | 'outcome'>;
  private readonly refused: Counter<'host'>;
  private readonly duration: Histogram<'host'>;

  constructor(config: PlatformConfig, metrics: MetricsService) {
    this.allowlist = new EgressAllowlist(config.egressAllowlist);
    this.requests = metrics.counter({
      name: 'sovren_egress_requests_total',
      help: 'Outbound HTTP requests by target host and outcome (refused ones included).',
      labelNames: ['host', 'outcome'],
    });
    this.refused = metrics.counter({
      name: 'sovren_egress_refused_total',
      help: 'Outbound HTTP requests refused before connecting (host not allowlisted, bad scheme or URL).',
      labelNames: ['host'],
    });
    this.duration = metrics.histogram({
      name: 'sovren_egress_request_duration_seconds',
      help: 'Outbound HTTP request duration in seconds, until the whole body is received.',
      labelNames: ['host'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
  }

  async request(url: string | URL, init: EgressRequestInit = {}): Promise<EgressResponse> {
    const method = (init.method ?? 'GET').toUpperCase();
    const target = this.admit(url, method);
    const host = target.host;
    const { headers, body } = encodeBody(init, host, method);
    const timeoutMs = positiveInteger(init.timeoutMs ?? DEFAULT_EGRESS_TIMEOUT_MS, 'timeoutMs', host);
    const maxBytes = positiveInteger(init.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, 'maxResponseBytes', host);

    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const stopTimer = this.duration.startTimer({ host });
    try {
      // Redirects are returned, not followed: following one could lead outside the allowlist.
      const response = await fetch(target, { method, headers, body, signal: controller.signal, redirect: 'manual' });
      const received = await readBody(response, maxBytes, host, controller);
      const outcome: EgressOutcome =
        response.status >= 500 ? 'server_error' : response.status >= 400 ? 'client_error' : 'success';
      this.requests.inc({ host, outcome });
      this.logger.debug({ msg: 'egress request completed', host, method, status: response.status });
      return new EgressResponse(response.status, response.headers, received, host);
    } catch (error) {
      throw this.failure(error, controller.signal.aborted, host, method, timeoutMs);
    } finally {
      clearTimeout(timer);
      stopTimer();
    }
  }

  /** Parses and checks the target; throws EgressRefusedError (and counts and logs it) when it may not leave. */
  private admit(url: string | URL, method: string): URL {
    let target: URL;
    try {
      target = new URL(url);
    } catch (error) {
      const reason = errorMessage(error);
      throw this.refuse(EgressErrorCode.INVALID_URL, `Egress refused: not a valid URL (${reason})`, undefined, method);
    }
    const host = target.host.toLowerCase();
    if (!ALLOWED_SCHEMES.has(target.protocol)) {
      throw this.refuse(
        EgressErrorCode.SCHEME_NOT_ALLOWED,
        `Egress to ${host || target.protocol} refused: scheme ${target.protocol} is not allowed (only http and https)`,
        host,
        method,
      );
    }
    if (!this.allowlist.allows(target)) {
      throw this.refuse(
        EgressErrorCode.HOST_NOT_ALLOWED,
        `Egress to ${host} refused: it is not on the egress allowlist. If this host is a sanctioned provider ` +
          `(telephony carrier, billing engine, OAuth login), add "${host}" to SOVREN_EGRESS_ALLOWLIST ` +
          `(comma-separated host or host:port entries).`,
        host,
        method,
      );
    }
    return target;
  }

  private refuse(
    code: EgressErrorCode.HOST_NOT_ALLOWED | EgressErrorCode.SCHEME_NOT_ALLOWED | EgressErrorCode.INVALID_URL,
    message: string,
    host: string | undefined,
    method: string,
  ): EgressRefusedError {
    const label = host || UNPARSEABLE_HOST;
    this.refused.inc({ host: label });
    this.requests.inc({ host: label, outcome: 'refused' });
    this.logger.warn({
      msg: 'egress refused',
      code,
      host: label,
      method,
      allowlist_size: this.allowlist.entries.length,
    });
    return new EgressRefusedError(code, message, host);
  }

  private failure(error: unknown, aborted: boolean, host: string, method: string, timeoutMs: number): EgressError {
    if (error instanceof EgressError) {
      this.requests.inc({
        host,
        outcome: error.code === EgressErrorCode.RESPONSE_TOO_LARGE ? 'too_large' : 'network_error',
      });
      this.logger.warn({ msg: 'egress request failed', code: error.code, host, method, reason: error.message });
      return error;
    }
    if (aborted) {
      this.requests.inc({ host, outcome: 'timeout' });
      this.logger.warn({
        msg: 'egress request timed out',
        code: EgressErrorCode.TIMEOUT,
        host,
        method,
        timeout_ms: timeoutMs,
      });
      return new EgressError(EgressErrorCode.TIMEOUT, `Egress to ${host} timed out after ${timeoutMs} ms`, host, {
        cause: error,
      });
    }
    const reason = networkReason(error);
    this.requests.inc({ host, outcome: 'network_error' });
    this.logger.warn({ msg: 'egress request failed', code: EgressErrorCode.NETWORK_ERROR, host, method, reason });
    return new EgressError(EgressErrorCode.NETWORK_ERROR, `Egress to ${host} failed: ${reason}`, host, {
      cause: error,
    });
  }
}

function encodeBody(
  init: EgressRequestInit,
  host: string,
  method: string,
): { headers: Headers; body: string | Uint8Array | undefined } {
  const headers = new Headers(init.headers);
  const { body } = init;
  if (body === undefined) return { headers, body: undefined };
  if (method === 'GET' || method === 'HEAD') {
    throw new EgressError(
      EgressErrorCode.INVALID_REQUEST,
      `Egress to ${host}: a ${method} request cannot have a body`,
      host,
    );
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) return { headers, body };
  if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  return { headers, body: JSON.stringify(body) };
}

function positiveInteger(value: number, name: string, host: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new EgressError(
      EgressErrorCode.INVALID_REQUEST,
      `Egress to ${host}: ${name} must be a positive integer`,
      host,
    );
  }
  return value;
}

async function readBody(
  response: Response,
  maxBytes: number,
  host: string,
  controller: AbortController,
): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        controller.abort();
        throw new EgressError(
          EgressErrorCode.RESPONSE_TOO_LARGE,
          `Egress to ${host}: response body exceeds ${maxBytes} bytes`,
          host,
        );
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks);
}

// fetch reports every network failure as "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND...) is the
// cause. Duck-typed, because fetch's errors may come from another realm (Jest's sandbox) and fail instanceof.
function networkReason(error: unknown): string {
  const cause = errorLike(error)?.cause;
  const described = errorLike(cause) ?? errorLike(error);
  if (!described) return String(error);
  return typeof described.code === 'string' ? `${described.code}: ${described.message}` : described.message;
}

function errorLike(value: unknown): { message: string; code?: unknown; cause?: unknown } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { message } = value as { message?: unknown };
  return typeof message === 'string' ? (value as { message: string; code?: unknown; cause?: unknown }) : undefined;
}
