// How a Kill Bill request travels (base path /1.0/kb), over the platform's EgressClient so Kill Bill's host must be
// on the egress allowlist: tenant headers and HTTP basic auth on every request, X-Killbill-CreatedBy (Kill Bill
// answers 400 without it) plus optional Reason/Comment on every write, X-Request-Id from the call or the
// observability request context. Retries (exponential backoff, full jitter) only on 5xx/timeouts of requests the
// caller says are safe to repeat; a circuit breaker stops hammering a Kill Bill that is down; answers are turned
// into typed KillBillErrors and counted. Secrets are never logged.
import { Logger } from '@nestjs/common';
import { EgressClient, EgressError, EgressErrorCode, EgressResponse } from '@sovren/egress';
import { currentRequestId, MetricsService } from '@sovren/observability';
import { CircuitBreaker, CircuitState, errorMessage, retry, RetryOptions } from '@sovren/resilience';
import type { Counter, Gauge, Histogram } from 'prom-client';

import { KillBillError, kindForStatus, parseErrorBody } from './killbill.errors';

export const KILLBILL_BASE_PATH = '/1.0/kb';

export interface KillBillTransportOptions {
  /** Kill Bill's origin, e.g. `http://localhost:8080` (no path). */
  baseUrl: string;
  apiKey: string;
  apiSecret: string;
  username: string;
  password: string;
  /** X-Killbill-CreatedBy of every write (who is acting), e.g. `sovren-billing`. */
  createdBy: string;
  timeoutMs?: number;
  /** Attempts of a retryable request, the first included. */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry (ms); it doubles per retry up to retryMaxMs, the delay drawn below it. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  breakerFailureThreshold?: number;
  breakerOpenMs?: number;
  /** Uniform random in [0, 1) for the backoff's jitter (default Math.random); for tests. */
  random?: () => number;
  /** Waits between retries (default a timer); for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** Audit context of one write, shown in Kill Bill's audit log. */
export interface KillBillWriteContext {
  reason?: string;
  comment?: string;
  requestId?: string;
}

export type KillBillQuery = Record<string, string | number | boolean | undefined>;

export interface KillBillSendOptions {
  query?: KillBillQuery;
  body?: string | object;
  contentType?: string;
  write?: KillBillWriteContext;
  /** Repeat on 5xx/timeouts (only for requests that are safe to repeat). */
  retry: boolean;
  requestId?: string;
}

type Settings = Required<Omit<KillBillTransportOptions, 'random' | 'sleep'>> &
  Pick<KillBillTransportOptions, 'random' | 'sleep'>;

const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/** Whether a failure is Kill Bill being unavailable (5xx, timeout, connection refused): the one kind retried. */
export function isKillBillUnavailable(error: unknown): boolean {
  return error instanceof KillBillError && error.kind === 'unavailable';
}

export class KillBillTransport {
  private readonly logger = new Logger('KillBillClient');
  private readonly origin: URL;
  private readonly authorization: string;
  private readonly breaker: CircuitBreaker;
  private readonly options: Settings;
  private readonly latency: Histogram<'method' | 'route' | 'status'> | undefined;
  private readonly errors: Counter<'kind'> | undefined;
  private readonly circuit: Gauge | undefined;

  constructor(
    private readonly egress: EgressClient,
    options: KillBillTransportOptions,
    metrics?: MetricsService,
  ) {
    this.options = {
      timeoutMs: 10_000,
      maxAttempts: 3,
      retryBaseMs: 200,
      retryMaxMs: 5_000,
      breakerFailureThreshold: 5,
      breakerOpenMs: 5_000,
      ...options,
    };
    this.origin = new URL(options.baseUrl);
    if (this.origin.pathname !== '/' || this.origin.search !== '') {
      throw new Error('KillBillClient: baseUrl must be an origin without path or query (e.g. http://localhost:8080)');
    }
    for (const field of ['apiKey', 'apiSecret', 'username', 'password', 'createdBy'] as const) {
      if (typeof options[field] !== 'string' || options[field] === '') {
        throw new Error(`KillBillClient: ${field} must be a non-empty string`);
      }
    }
    if (!(this.options.retryBaseMs >= 0) || !(this.options.retryMaxMs >= this.options.retryBaseMs)) {
      throw new Error('KillBillClient: need 0 <= retryBaseMs <= retryMaxMs');
    }
    this.authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
    if (metrics) {
      this.latency = metrics.histogram({
        name: 'sovren_billing_killbill_request_seconds',
        help: 'Kill Bill request duration in seconds, by method, route template and status (0: no answer).',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      });
      this.errors = metrics.counter({
        name: 'sovren_billing_killbill_errors_total',
        help: 'Failed Kill Bill requests by kind (client, conflict, payment_declined, plugin_failure, unavailable, circuit_open, protocol).',
        labelNames: ['kind'],
      });
      this.circuit = metrics.gauge({
        name: 'sovren_billing_circuit_state',
        help: 'State of the Kill Bill circuit breaker: 0 closed, 1 half-open, 2 open.',
      });
      this.circuit.set(0);
    }
    this.breaker = new CircuitBreaker({
      failureThreshold: this.options.breakerFailureThreshold,
      openMs: this.options.breakerOpenMs,
      onStateChange: (state) => {
        this.circuit?.set(CIRCUIT_STATE_VALUE[state]);
        const line = { msg: 'Kill Bill circuit breaker changed state', state, host: this.origin.host };
        if (state === 'open') this.logger.warn(line);
        else this.logger.log(line);
      },
    });
  }

  get circuitState(): CircuitState {
    return this.breaker.state;
  }

  /** Retry settings for a caller's own retry of a non-idempotent call (attempts, backoff, only `unavailable`). */
  retryOptions(): RetryOptions {
    return {
      maxAttempts: this.options.maxAttempts,
      initialMs: this.options.retryBaseMs,
      maxMs: this.options.retryMaxMs,
      random: this.options.random,
      sleep: this.options.sleep,
      retryable: isKillBillUnavailable,
    };
  }

  async getJson<T>(route: string, path: string, query?: KillBillQuery): Promise<T> {
    const response = await this.send('GET', route, path, { query, retry: true });
    return this.json<T>(response, route);
  }

  /** GET, with a 404 answered as undefined. */
  async getOptional<T>(route: string, path: string, query?: KillBillQuery): Promise<T | undefined> {
    try {
      return await this.getJson<T>(route, path, query);
    } catch (error) {
      if (error instanceof KillBillError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** POST, then GET the Location Kill Bill answered with (the 201 carries no body). */
  async createAndFetch<T>(
    route: string,
    path: string,
    body: object,
    write: KillBillWriteContext,
    query?: KillBillQuery,
    retry = true,
  ): Promise<T> {
    const created = await this.send('POST', route, path, { body, write, query, retry });
    const location = created.headers.get('location');
    if (created.status !== 201 || !location) {
      this.errors?.inc({ kind: 'protocol' });
      throw new KillBillError(
        'protocol',
        `Kill Bill answered ${created.status} without a Location to POST ${route}`,
        created.status,
        undefined,
      );
    }
    const target = new URL(location, this.origin);
    if (!target.pathname.startsWith(`${KILLBILL_BASE_PATH}/`)) {
      this.errors?.inc({ kind: 'protocol' });
      throw new KillBillError(
        'protocol',
        `Kill Bill's Location for POST ${route} is outside ${KILLBILL_BASE_PATH}`,
        created.status,
        undefined,
      );
    }
    // Follow the path only, against the configured origin: a Location naming another host is never contacted.
    const locationQuery = Object.fromEntries(target.searchParams.entries());
    return this.getJson<T>(`${route} (Location)`, target.pathname.slice(KILLBILL_BASE_PATH.length), locationQuery);
  }

  /** One request; with `retry`, repeated on `unavailable` up to maxAttempts with backoff. */
  async send(method: string, route: string, path: string, options: KillBillSendOptions): Promise<EgressResponse> {
    return retry(() => this.sendOnce(method, route, path, options), {
      ...this.retryOptions(),
      maxAttempts: options.retry ? this.options.maxAttempts : 1,
    });
  }

  private async sendOnce(
    method: string,
    route: string,
    path: string,
    options: KillBillSendOptions,
  ): Promise<EgressResponse> {
    if (!this.breaker.tryAcquire()) {
      this.errors?.inc({ kind: 'circuit_open' });
      throw new KillBillError(
        'circuit_open',
        `Kill Bill circuit breaker is open after repeated failures; next try in ${this.breaker.retryInMs()} ms`,
        undefined,
        undefined,
      );
    }
    const url = new URL(`${KILLBILL_BASE_PATH}${path}`, this.origin);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: this.authorization,
      'x-killbill-apikey': this.options.apiKey,
      'x-killbill-apisecret': this.options.apiSecret,
    };
    const requestId = options.write?.requestId ?? options.requestId ?? currentRequestId();
    if (requestId) headers['x-request-id'] = headerSafe(requestId);
    if (method !== 'GET') {
      headers['x-killbill-createdby'] = this.options.createdBy;
      if (options.write?.reason) headers['x-killbill-reason'] = headerSafe(options.write.reason);
      if (options.write?.comment) headers['x-killbill-comment'] = headerSafe(options.write.comment);
    }
    if (options.contentType) headers['content-type'] = options.contentType;
    const stop = this.latency?.startTimer({ method, route });
    let response: EgressResponse;
    try {
      response = await this.egress.request(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : options.body,
        timeoutMs: this.options.timeoutMs,
      });
    } catch (error) {
      stop?.({ status: '0' });
      const refused = error instanceof EgressError && error.code === EgressErrorCode.HOST_NOT_ALLOWED;
      // Our own allowlist refusing Kill Bill says nothing about Kill Bill's health: no reason to open the circuit.
      if (refused) this.breaker.onNeutral();
      else this.breaker.onFailure();
      const kind = refused ? 'configuration' : 'unavailable';
      this.errors?.inc({ kind });
      throw new KillBillError(
        kind,
        `Kill Bill ${method} ${route} failed: ${errorMessage(error)}`,
        undefined,
        undefined,
        {
          cause: error,
        },
      );
    }
    stop?.({ status: String(response.status) });
    if (response.ok) {
      this.breaker.onSuccess();
      return response;
    }
    const kind = kindForStatus(response.status);
    if (kind === 'unavailable') this.breaker.onFailure();
    else this.breaker.onNeutral();
    this.errors?.inc({ kind });
    const body = parseErrorBody(response.text());
    const detail = body?.message ? `: ${body.message}` : '';
    if (kind === 'unavailable' || kind === 'client' || kind === 'configuration') {
      this.logger.warn({
        msg: 'Kill Bill request failed',
        method,
        route,
        status: response.status,
        code: body?.code,
        detail: body?.message,
      });
    }
    throw new KillBillError(
      kind,
      `Kill Bill ${method} ${route} answered ${response.status}${detail}`,
      response.status,
      body,
    );
  }

  private json<T>(response: EgressResponse, route: string): T {
    try {
      return response.json<T>();
    } catch (error) {
      this.errors?.inc({ kind: 'protocol' });
      throw new KillBillError(
        'protocol',
        `Kill Bill GET ${route} answered a body that is not JSON`,
        response.status,
        undefined,
        { cause: error },
      );
    }
  }
}

/** Reason/Comment are free text; a header value must not carry line breaks. */
function headerSafe(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').slice(0, 250);
}
