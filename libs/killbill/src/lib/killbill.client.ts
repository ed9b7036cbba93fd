// The Kill Bill REST client (base path /1.0/kb), over the platform's EgressClient so Kill Bill's host must be on the
// egress allowlist. Every request carries the tenant headers and HTTP basic auth; every write carries
// X-Killbill-CreatedBy (Kill Bill answers 400 without it) plus optional Reason/Comment; X-Request-Id traces it:
// the id given with the call, else the one of the observability request context (the HTTP request being served,
// or whatever the caller runs under runWithRequestId), so Kill Bill's logs line up with ours without threading it.
// Created resources come back as 201 + Location and no body: the client follows the Location with a GET.
//
// Kill Bill has no idempotency header, so safety comes from natural keys: account externalKey (409 on duplicate),
// usage trackingId (USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS) and payment transactionExternalKey (looked up after
// a 503/504 before any retry). Retries (backoff + jitter) only on 5xx/timeouts of requests that are safe to
// repeat; a circuit breaker stops hammering a Kill Bill that is down. Secrets are never logged.
import { Logger } from '@nestjs/common';
import { EgressClient, EgressError, EgressErrorCode, EgressResponse } from '@sovren/egress';
import { currentRequestId, MetricsService } from '@sovren/observability';
import type { Counter, Gauge, Histogram } from 'prom-client';

import { CircuitBreaker, CircuitState } from '@sovren/resilience';
import { KillBillError, KillBillErrorCodes, kindForStatus, parseErrorBody } from './killbill.errors';
import type {
  KillBillAccount,
  KillBillBundle,
  KillBillInvoice,
  KillBillPayment,
  KillBillPaymentMethod,
  KillBillPluginProperty,
  KillBillRolledUpUsage,
  KillBillSubscription,
  KillBillSubscriptionUsageRecord,
} from './killbill.types';

export const KILLBILL_BASE_PATH = '/1.0/kb';

export interface KillBillClientOptions {
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
  retryBaseMs?: number;
  retryMaxMs?: number;
  breakerFailureThreshold?: number;
  breakerOpenMs?: number;
}

/** Audit context of one write, shown in Kill Bill's audit log. */
export interface KillBillWriteContext {
  reason?: string;
  comment?: string;
  requestId?: string;
}

export type PaymentOutcomeStatus = 'success' | 'pending' | 'declined' | 'plugin_failure';

export interface PaymentOutcome {
  status: PaymentOutcomeStatus;
  payment?: KillBillPayment;
  /** Kill Bill's error message or the gateway's, when the payment did not succeed. */
  reason?: string;
}

interface SendOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: string | object;
  contentType?: string;
  write?: KillBillWriteContext;
  /** Repeat on 5xx/timeouts (only for requests that are safe to repeat). */
  retry: boolean;
  requestId?: string;
}

const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

export class KillBillClient {
  private readonly logger = new Logger(KillBillClient.name);
  private readonly origin: URL;
  private readonly authorization: string;
  private readonly breaker: CircuitBreaker;
  private readonly options: Required<KillBillClientOptions>;
  private readonly latency: Histogram<'method' | 'route' | 'status'> | undefined;
  private readonly errors: Counter<'kind'> | undefined;
  private readonly circuit: Gauge | undefined;

  constructor(
    private readonly egress: EgressClient,
    options: KillBillClientOptions,
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

  // ---- accounts ----

  /** Creates the account for `externalKey`, or returns the existing one (409): safe to call any number of times. */
  async createAccount(
    account: { externalKey: string; name: string; currency: string; email?: string },
    write: KillBillWriteContext = {},
  ): Promise<KillBillAccount> {
    try {
      return await this.createAndFetch<KillBillAccount>('/accounts', '/accounts', account, write);
    } catch (error) {
      if (error instanceof KillBillError && error.kind === 'conflict') {
        const existing = await this.getAccountByExternalKey(account.externalKey);
        if (existing) return existing;
      }
      throw error;
    }
  }

  async getAccountByExternalKey(externalKey: string): Promise<KillBillAccount | undefined> {
    return this.getOptional<KillBillAccount>('/accounts', '/accounts', { externalKey });
  }

  async getAccount(accountId: string): Promise<KillBillAccount> {
    return this.getJson<KillBillAccount>('/accounts/{accountId}', `/accounts/${seg(accountId)}`);
  }

  // ---- catalog and subscriptions ----

  async uploadCatalogXml(xml: string, write: KillBillWriteContext = {}): Promise<void> {
    await this.send('POST', '/catalog/xml', '/catalog/xml', { body: xml, contentType: 'text/xml', write, retry: true });
  }

  async createSubscription(
    subscription: { accountId: string; planName: string; externalKey?: string },
    write: KillBillWriteContext = {},
  ): Promise<KillBillSubscription> {
    return this.createAndFetch<KillBillSubscription>('/subscriptions', '/subscriptions', subscription, write);
  }

  /** The account's bundles (with their subscriptions), optionally only the one with `externalKey`. */
  async getBundles(accountId: string, externalKey?: string): Promise<KillBillBundle[]> {
    return this.getJson<KillBillBundle[]>('/accounts/{accountId}/bundles', `/accounts/${seg(accountId)}/bundles`, {
      externalKey,
    });
  }

  async getSubscription(subscriptionId: string): Promise<KillBillSubscription> {
    return this.getJson<KillBillSubscription>(
      '/subscriptions/{subscriptionId}',
      `/subscriptions/${seg(subscriptionId)}`,
    );
  }

  async changePlan(
    subscriptionId: string,
    planName: string,
    write: KillBillWriteContext = {},
  ): Promise<KillBillSubscription> {
    await this.send('PUT', '/subscriptions/{subscriptionId}', `/subscriptions/${seg(subscriptionId)}`, {
      body: { planName },
      write,
      retry: true,
    });
    return this.getSubscription(subscriptionId);
  }

  async cancelSubscription(subscriptionId: string, write: KillBillWriteContext = {}): Promise<void> {
    await this.send('DELETE', '/subscriptions/{subscriptionId}', `/subscriptions/${seg(subscriptionId)}`, {
      write,
      retry: true,
    });
  }

  // ---- usage ----

  /**
   * Records usage. A trackingId Kill Bill already has means this exact record was accepted before (a retry or a
   * redelivery): answered `duplicate`, which the caller treats like `recorded`.
   */
  async recordUsage(
    record: KillBillSubscriptionUsageRecord,
    write: KillBillWriteContext = {},
  ): Promise<'recorded' | 'duplicate'> {
    try {
      await this.send('POST', '/usages', '/usages', { body: record, write, retry: true });
      return 'recorded';
    } catch (error) {
      if (error instanceof KillBillError && error.code === KillBillErrorCodes.USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS) {
        return 'duplicate';
      }
      throw error;
    }
  }

  /** Usage recorded for one subscription and unit in [startDate, endDate) (dates `YYYY-MM-DD`). */
  async getRolledUpUsage(
    subscriptionId: string,
    unitType: string,
    startDate: string,
    endDate: string,
  ): Promise<KillBillRolledUpUsage> {
    return this.getJson<KillBillRolledUpUsage>(
      '/usages/{subscriptionId}/{unitType}',
      `/usages/${seg(subscriptionId)}/${seg(unitType)}`,
      { startDate, endDate },
    );
  }

  // ---- payment methods ----

  /** Adds a payment method handled by `pluginName`; the plugin properties carry the gateway's token, never card data. */
  async addPaymentMethod(
    accountId: string,
    method: { pluginName: string; properties: KillBillPluginProperty[]; isDefault: boolean; externalKey?: string },
    write: KillBillWriteContext = {},
  ): Promise<KillBillPaymentMethod> {
    const body = {
      accountId,
      pluginName: method.pluginName,
      externalKey: method.externalKey,
      pluginInfo: { properties: method.properties },
    };
    return this.createAndFetch<KillBillPaymentMethod>(
      '/accounts/{accountId}/paymentMethods',
      `/accounts/${seg(accountId)}/paymentMethods`,
      body,
      write,
      { isDefault: method.isDefault },
    );
  }

  async getPaymentMethods(accountId: string): Promise<KillBillPaymentMethod[]> {
    return this.getJson<KillBillPaymentMethod[]>(
      '/accounts/{accountId}/paymentMethods',
      `/accounts/${seg(accountId)}/paymentMethods`,
    );
  }

  async getPaymentMethod(paymentMethodId: string): Promise<KillBillPaymentMethod> {
    return this.getJson<KillBillPaymentMethod>(
      '/paymentMethods/{paymentMethodId}',
      `/paymentMethods/${seg(paymentMethodId)}`,
    );
  }

  async setDefaultPaymentMethod(
    accountId: string,
    paymentMethodId: string,
    write: KillBillWriteContext = {},
  ): Promise<void> {
    await this.send(
      'PUT',
      '/accounts/{accountId}/paymentMethods/{paymentMethodId}/setDefault',
      `/accounts/${seg(accountId)}/paymentMethods/${seg(paymentMethodId)}/setDefault`,
      { write, retry: true },
    );
  }

  // ---- invoices and payments ----

  async getInvoices(accountId: string): Promise<KillBillInvoice[]> {
    return this.getJson<KillBillInvoice[]>('/accounts/{accountId}/invoices', `/accounts/${seg(accountId)}/invoices`);
  }

  async getInvoice(invoiceId: string): Promise<KillBillInvoice> {
    return this.getJson<KillBillInvoice>('/invoices/{invoiceId}', `/invoices/${seg(invoiceId)}`);
  }

  /** Every payment made against the invoice, including Kill Bill's own retries. */
  async getInvoicePayments(invoiceId: string): Promise<KillBillPayment[]> {
    return this.getJson<KillBillPayment[]>('/invoices/{invoiceId}/payments', `/invoices/${seg(invoiceId)}/payments`);
  }

  async getPayments(accountId: string): Promise<KillBillPayment[]> {
    return this.getJson<KillBillPayment[]>('/accounts/{accountId}/payments', `/accounts/${seg(accountId)}/payments`);
  }

  async getPayment(paymentId: string): Promise<KillBillPayment> {
    return this.getJson<KillBillPayment>('/payments/{paymentId}', `/payments/${seg(paymentId)}`);
  }

  async getPaymentByTransactionExternalKey(transactionExternalKey: string): Promise<KillBillPayment | undefined> {
    return this.getOptional<KillBillPayment>('/paymentTransactions', '/paymentTransactions', {
      transactionExternalKey,
    });
  }

  /**
   * Pays an invoice with one payment method (POST /invoices/{id}/payments). 402 and 502 are outcomes, not errors.
   * After a 503/504/timeout the payment may or may not exist: it is looked up by transactionExternalKey before the
   * request is repeated with the same key, so an invoice is never charged twice by a retry.
   */
  async payInvoice(
    payment: {
      invoiceId: string;
      accountId: string;
      paymentMethodId: string;
      amount: number;
      transactionExternalKey: string;
    },
    write: KillBillWriteContext = {},
  ): Promise<PaymentOutcome> {
    const body = {
      accountId: payment.accountId,
      targetInvoiceId: payment.invoiceId,
      paymentMethodId: payment.paymentMethodId,
      purchasedAmount: payment.amount,
      transactionExternalKey: payment.transactionExternalKey,
    };
    let lastError: KillBillError | undefined;
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt += 1) {
      if (attempt > 1) {
        const existing = await this.getPaymentByTransactionExternalKey(payment.transactionExternalKey);
        if (existing) return outcomeOf(existing, payment.transactionExternalKey);
        await sleep(this.backoffMs(attempt - 1));
      }
      try {
        const created = await this.createAndFetch<KillBillPayment>(
          '/invoices/{invoiceId}/payments',
          `/invoices/${seg(payment.invoiceId)}/payments`,
          body,
          write,
          { externalPayment: false },
          false,
        );
        return outcomeOf(created, payment.transactionExternalKey);
      } catch (error) {
        if (!(error instanceof KillBillError)) throw error;
        if (error.kind === 'payment_declined' || error.kind === 'plugin_failure') {
          return {
            status: error.kind === 'payment_declined' ? 'declined' : 'plugin_failure',
            reason: error.body?.message ?? error.message,
          };
        }
        if (error.kind !== 'unavailable') throw error;
        lastError = error;
      }
    }
    const existing = await this.getPaymentByTransactionExternalKey(payment.transactionExternalKey);
    if (existing) return outcomeOf(existing, payment.transactionExternalKey);
    throw lastError ?? new KillBillError('unavailable', 'Kill Bill payment outcome unknown', undefined, undefined);
  }

  // ---- notifications ----

  async registerNotificationCallback(callbackUrl: string, write: KillBillWriteContext = {}): Promise<void> {
    await this.send('POST', '/tenants/registerNotificationCallback', '/tenants/registerNotificationCallback', {
      query: { cb: callbackUrl },
      write,
      retry: true,
    });
  }

  // ---- transport ----

  private async getJson<T>(route: string, path: string, query?: SendOptions['query']): Promise<T> {
    const response = await this.send('GET', route, path, { query, retry: true });
    return this.json<T>(response, route);
  }

  private async getOptional<T>(route: string, path: string, query?: SendOptions['query']): Promise<T | undefined> {
    try {
      return await this.getJson<T>(route, path, query);
    } catch (error) {
      if (error instanceof KillBillError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** POST, then GET the Location Kill Bill answered with (the 201 carries no body). */
  private async createAndFetch<T>(
    route: string,
    path: string,
    body: object,
    write: KillBillWriteContext,
    query?: SendOptions['query'],
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

  private async send(method: string, route: string, path: string, options: SendOptions): Promise<EgressResponse> {
    const attempts = options.retry ? this.options.maxAttempts : 1;
    let lastError: KillBillError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      if (attempt > 1) await sleep(this.backoffMs(attempt - 1));
      try {
        return await this.sendOnce(method, route, path, options);
      } catch (error) {
        if (!(error instanceof KillBillError) || error.kind !== 'unavailable') throw error;
        lastError = error;
      }
    }
    throw lastError as KillBillError;
  }

  private async sendOnce(method: string, route: string, path: string, options: SendOptions): Promise<EgressResponse> {
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
      this.breaker.onFailure();
      const refused = error instanceof EgressError && error.code === EgressErrorCode.HOST_NOT_ALLOWED;
      const kind = refused ? 'client' : 'unavailable';
      this.errors?.inc({ kind });
      const reason = error instanceof Error ? error.message : String(error);
      throw new KillBillError(kind, `Kill Bill ${method} ${route} failed: ${reason}`, undefined, undefined, {
        cause: error,
      });
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
    if (kind === 'unavailable' || kind === 'client') {
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

  /** Exponential backoff with full jitter, capped. */
  private backoffMs(retry: number): number {
    const ceiling = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (retry - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }
}

function outcomeOf(payment: KillBillPayment, transactionExternalKey: string): PaymentOutcome {
  const transaction =
    payment.transactions.find((candidate) => candidate.transactionExternalKey === transactionExternalKey) ??
    payment.transactions[payment.transactions.length - 1];
  switch (transaction?.status) {
    case 'SUCCESS':
      return { status: 'success', payment };
    case 'PENDING':
      return { status: 'pending', payment };
    case 'PAYMENT_FAILURE':
      return { status: 'declined', payment, reason: transaction.gatewayErrorMsg ?? 'payment failure' };
    default:
      return {
        status: 'plugin_failure',
        payment,
        reason: transaction?.gatewayErrorMsg ?? `transaction status ${transaction?.status ?? 'missing'}`,
      };
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

/** Reason/Comment are free text; a header value must not carry line breaks. */
function headerSafe(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').slice(0, 250);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
