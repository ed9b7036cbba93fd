// A strict local stand-in for Kill Bill's REST API (base /1.0/kb) for tests and benchmarks: Kill Bill cannot run
// on our machines. It checks what the real server checks — tenant headers (X-Killbill-ApiKey/ApiSecret), HTTP
// basic auth, X-Killbill-CreatedBy on every write (400 without it), well-formed JSON bodies — and answers like it:
// 201 + Location and no body for created resources, Kill Bill's error body {className, code, message,
// causeClassName, causeMessage}, 409 on a duplicate account externalKey, USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS on
// a repeated usage trackingId, 402/502 payment failures injectable per plugin, payments findable by
// transactionExternalKey, and push notifications to the registered callbacks. It can be stopped and started again
// on the same port with its state kept, to simulate an outage.
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { errorMessage } from '@sovren/resilience';

import { KillBillErrorCodes } from '../lib/killbill.errors';
import type {
  KillBillAccount,
  KillBillInvoice,
  KillBillNotification,
  KillBillPayment,
  KillBillPaymentMethod,
  KillBillPluginProperty,
  KillBillSubscription,
} from '../lib/killbill.types';

export interface KillBillStandInOptions {
  apiKey?: string;
  apiSecret?: string;
  username?: string;
  password?: string;
  /** A fixed port; default a free one (kept across stop/start). */
  port?: number;
}

export interface InjectedFailure {
  method?: string;
  /** Matches paths (after /1.0/kb) starting with this. */
  pathPrefix?: string;
  /** Matches only requests whose raw body contains this (e.g. one owner's externalKey or subscription id). */
  bodyIncludes?: string;
  status: number;
  times: number;
  /** Process the request first, then answer `status` (a timeout after the work was done). */
  afterProcessing?: boolean;
}

/** Holds matching requests for `ms` (a slow Kill Bill, for client timeouts). */
export interface InjectedDelay {
  method?: string;
  pathPrefix?: string;
  bodyIncludes?: string;
  ms: number;
  times: number;
  /**
   * `before` (default): the request waits before it is handled. `commit` (POST /usages): it is checked at once — its
   * trackingId looked up, as Kill Bill's DefaultUsageUserApi does — and written `ms` later, then answered: Kill
   * Bill's check and insert are separate statements with no unique key on tracking_id, so a second request with
   * the same trackingId arriving in between passes the check too and the usage is recorded twice.
   */
  phase?: 'before' | 'commit';
}

export interface NotificationDelivery {
  callback: string;
  notification: KillBillNotification;
  status: number;
}

interface Catalog {
  plans: Set<string>;
  units: Set<string>;
  xml: string;
}

interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  raw: string;
}

interface Answer {
  status: number;
  body?: unknown;
  location?: string;
}

const BASE = '/1.0/kb';
const MICRO = 1_000_000n;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

interface CheckedUsage {
  subscriptionId: string;
  trackingId: string;
  additions: Array<[string, string, bigint]>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function usageWindow(query: URLSearchParams): { startDate: string; endDate: string } {
  const startDate = query.get('startDate');
  const endDate = query.get('endDate');
  if (!startDate || !endDate || !DATE.test(startDate) || !DATE.test(endDate)) {
    throw new StandInError(400, 0, 'startDate and endDate (YYYY-MM-DD) need to be set');
  }
  return { startDate, endDate };
}

class StandInError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly className = 'org.killbill.billing.jaxrs.resources.KillBillApiException',
  ) {
    super(message);
  }
}

export class KillBillStandIn {
  readonly apiKey: string;
  /** The tenant secret it accepts; setApiSecret changes it (a rotated or mistyped secret). */
  apiSecret: string;
  readonly username: string;
  readonly password: string;

  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort: number;

  private catalog: Catalog | undefined;
  private readonly accounts = new Map<string, KillBillAccount>();
  private readonly accountsByKey = new Map<string, string>();
  private readonly subscriptions = new Map<string, KillBillSubscription>();
  private readonly paymentMethods = new Map<string, KillBillPaymentMethod>();
  private readonly invoices = new Map<string, KillBillInvoice>();
  private readonly payments = new Map<string, KillBillPayment>();
  private readonly trackingIds = new Set<string>();
  /** trackingId → how many times a record with it was written. */
  private readonly trackingWrites = new Map<string, number>();
  /** subscriptionId → unitType → recordDate → amount in millionths. */
  private readonly usage = new Map<string, Map<string, Map<string, bigint>>>();
  private readonly failingPlugins = new Map<string, 402 | 502>();
  private readonly failures: InjectedFailure[] = [];
  private readonly delays: InjectedDelay[] = [];
  private readonly callbacks: string[] = [];
  readonly deliveries: NotificationDelivery[] = [];
  /** Every request received (method and path), for assertions. */
  /** Every request handled, with its X-Request-Id when it carried one. */
  readonly requests: Array<{ method: string; path: string; status: number; requestId?: string }> = [];
  private usagePosts = 0;

  private constructor(options: KillBillStandInOptions) {
    this.apiKey = options.apiKey ?? 'sovren-tenant';
    this.apiSecret = options.apiSecret ?? 'sovren-tenant-secret';
    this.username = options.username ?? 'admin';
    this.password = options.password ?? 'password';
    this.boundPort = options.port ?? 0;
  }

  static async start(options: KillBillStandInOptions = {}): Promise<KillBillStandIn> {
    const standIn = new KillBillStandIn(options);
    await standIn.start();
    return standIn;
  }

  get port(): number {
    return this.boundPort;
  }

  /** `127.0.0.1:<port>`: the egress allowlist entry that admits this server. */
  get hostPort(): string {
    return `127.0.0.1:${this.boundPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Number of POST /usages requests that reached the server (accepted or not). */
  get usageRequests(): number {
    return this.usagePosts;
  }

  /** (Re)starts listening on the same port with the same state. */
  async start(): Promise<void> {
    if (this.server) throw new Error('Kill Bill stand-in is already running');
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => resolve());
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and cuts open connections (an outage); the state is kept for start(). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  }

  // ---- controls for tests ----

  /** Makes payments through `pluginName` fail with 402 (declined) or 502 (plugin failure); null: succeed. */
  failPaymentsFor(pluginName: string, status: 402 | 502 | null): void {
    if (status === null) this.failingPlugins.delete(pluginName);
    else this.failingPlugins.set(pluginName, status);
  }

  injectFailure(failure: InjectedFailure): void {
    this.failures.push({ ...failure });
  }

  injectDelay(delay: InjectedDelay): void {
    this.delays.push({ ...delay });
  }

  /** Drops every injected failure and delay not used up yet. */
  clearInjections(): void {
    this.failures.length = 0;
    this.delays.length = 0;
  }

  /** Accepts only `secret` as the tenant API secret from now on (requests with another one get 401). */
  setApiSecret(secret: string): void {
    this.apiSecret = secret;
  }

  /** Usage rows written under `trackingId` (Kill Bill keeps one row per unit and day; more means recorded twice). */
  usageWritesFor(trackingId: string): number {
    return this.trackingWrites.get(trackingId) ?? 0;
  }

  /** Creates a COMMITTED invoice (as Kill Bill's billing run would) and pushes INVOICE_CREATION. */
  createInvoice(accountId: string, amount: number): KillBillInvoice {
    const account = this.accounts.get(accountId);
    if (!account) throw new Error(`stand-in: no account ${accountId}`);
    const invoice: KillBillInvoice = {
      invoiceId: randomUUID(),
      accountId,
      invoiceNumber: String(this.invoices.size + 1),
      invoiceDate: today(),
      targetDate: today(),
      currency: account.currency,
      amount,
      balance: amount,
      status: 'COMMITTED',
    };
    this.invoices.set(invoice.invoiceId, invoice);
    this.notify({
      eventType: 'INVOICE_CREATION',
      accountId,
      objectType: 'INVOICE',
      objectId: invoice.invoiceId,
      metaData: null,
    });
    return invoice;
  }

  /**
   * Kill Bill's own payment retry of an unpaid invoice (its retry schedule, no API call of ours): pays through the
   * account's default method, with Kill Bill's own transaction key, and pushes the notifications.
   */
  retryInvoicePayment(invoiceId: string): KillBillPayment {
    const invoice = this.invoice(invoiceId);
    const account = this.account(invoice.accountId);
    const method = account.paymentMethodId ? this.paymentMethods.get(account.paymentMethodId) : undefined;
    if (!method) throw new Error(`stand-in: account ${account.accountId} has no default payment method`);
    const answer = this.purchase(invoice, method, invoice.balance, randomUUID());
    const paymentId = answer.location ? answer.location.split('/').pop() : (answer.body as KillBillPayment).paymentId;
    return this.payment(paymentId as string);
  }

  /** Sum recorded for a subscription and unit over all dates, as an exact decimal string. */
  recordedTotal(subscriptionId: string, unitType: string): string {
    let total = 0n;
    for (const amount of this.usage.get(subscriptionId)?.get(unitType)?.values() ?? []) total += amount;
    return fromMicro(total);
  }

  subscriptionOf(accountExternalKey: string): KillBillSubscription | undefined {
    const accountId = this.accountsByKey.get(accountExternalKey);
    return [...this.subscriptions.values()].find((s) => s.accountId === accountId && s.state === 'ACTIVE');
  }

  accountByKey(externalKey: string): KillBillAccount | undefined {
    const id = this.accountsByKey.get(externalKey);
    return id ? this.accounts.get(id) : undefined;
  }

  trackingIdCount(): number {
    return this.trackingIds.size;
  }

  /** Pushes a notification to every registered callback (what Kill Bill's bus does). */
  notify(notification: KillBillNotification): void {
    for (const callback of this.callbacks) {
      void fetch(callback, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(notification),
      }).then(
        (response) => {
          this.deliveries.push({ callback, notification, status: response.status });
        },
        () => {
          this.deliveries.push({ callback, notification, status: 0 });
        },
      );
    }
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readAll(req);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = (req.method ?? 'GET').toUpperCase();
    let answer: Answer;
    const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
    const delay = take(this.delays, method, path, raw);
    if (delay && delay.phase !== 'commit') await sleep(delay.ms);
    const injected = take(this.failures, method, path, raw);
    try {
      if (injected && !injected.afterProcessing) throw new StandInError(injected.status, 0, 'injected failure');
      if (!url.pathname.startsWith(`${BASE}/`)) throw new StandInError(404, 0, `no resource at ${url.pathname}`);
      this.authenticate(req, method);
      const request = { method, path, query: url.searchParams, headers: req.headers, raw };
      answer =
        delay?.phase === 'commit' && method === 'POST' && path === '/usages'
          ? await this.recordUsage(request, delay.ms)
          : this.route(request);
      if (injected) throw new StandInError(injected.status, 0, 'injected failure after processing');
    } catch (error) {
      answer = errorAnswer(error);
    }
    const requestId = req.headers['x-request-id'];
    this.requests.push({
      method,
      path,
      status: answer.status,
      ...(typeof requestId === 'string' ? { requestId } : {}),
    });
    if (answer.location) res.setHeader('Location', `${this.url}${BASE}${answer.location}`);
    if (answer.body === undefined) {
      res.writeHead(answer.status);
      res.end();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  }

  private authenticate(req: IncomingMessage, method: string): void {
    const expected = `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      throw new StandInError(
        401,
        0,
        'Unauthorized: invalid or missing basic credentials',
        'org.apache.shiro.authc.AuthenticationException',
      );
    }
    if (req.headers['x-killbill-apikey'] !== this.apiKey || req.headers['x-killbill-apisecret'] !== this.apiSecret) {
      throw new StandInError(
        401,
        0,
        'Unauthorized: unknown tenant api key or wrong secret',
        'org.apache.shiro.authc.AuthenticationException',
      );
    }
    if (method !== 'GET' && method !== 'HEAD') {
      const createdBy = req.headers['x-killbill-createdby'];
      if (typeof createdBy !== 'string' || createdBy.trim() === '') {
        throw new StandInError(400, 0, 'Header X-Killbill-CreatedBy needs to be set');
      }
    }
  }

  private route(r: Request): Answer {
    const parts = r.path
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent);
    const [head, id, sub, subId, action] = parts;
    if (head === 'accounts') {
      if (r.method === 'POST' && parts.length === 1) return this.createAccount(r);
      if (r.method === 'GET' && parts.length === 1) return this.accountByExternalKey(r);
      if (r.method === 'GET' && parts.length === 2) return { status: 200, body: this.account(id) };
      if (sub === 'paymentMethods') {
        if (r.method === 'POST' && parts.length === 3) return this.addPaymentMethod(id, r);
        if (r.method === 'GET' && parts.length === 3) {
          this.account(id);
          return { status: 200, body: [...this.paymentMethods.values()].filter((pm) => pm.accountId === id) };
        }
        if (r.method === 'PUT' && parts.length === 5 && action === 'setDefault') return this.setDefault(id, subId);
      }
      if (r.method === 'GET' && parts.length === 3 && sub === 'bundles')
        return this.bundles(id, r.query.get('externalKey'));
      if (r.method === 'GET' && parts.length === 3 && sub === 'invoices') {
        this.account(id);
        return { status: 200, body: [...this.invoices.values()].filter((i) => i.accountId === id) };
      }
      if (r.method === 'GET' && parts.length === 3 && sub === 'payments') {
        this.account(id);
        return { status: 200, body: [...this.payments.values()].filter((p) => p.accountId === id) };
      }
    }
    if (head === 'catalog') {
      if (r.method === 'POST' && id === 'xml' && parts.length === 2) return this.uploadCatalog(r);
      if (r.method === 'GET' && parts.length === 1) {
        if (!this.catalog)
          throw new StandInError(404, KillBillErrorCodes.CAT_NO_SUCH_PLAN, 'No catalog uploaded for this tenant');
        return {
          status: 200,
          body: [{ name: 'sovren', plans: [...this.catalog.plans], units: [...this.catalog.units] }],
        };
      }
    }
    if (head === 'subscriptions') {
      if (r.method === 'POST' && parts.length === 1) return this.createSubscription(r);
      if (r.method === 'GET' && parts.length === 2) return { status: 200, body: this.subscription(id) };
      if (r.method === 'PUT' && parts.length === 2) return this.changePlan(id, r);
      if (r.method === 'DELETE' && parts.length === 2) {
        const subscription = this.subscription(id);
        subscription.state = 'CANCELLED';
        subscription.cancelledDate = today();
        this.notify({
          eventType: 'SUBSCRIPTION_CANCEL',
          accountId: subscription.accountId,
          objectType: 'SUBSCRIPTION',
          objectId: id,
          metaData: null,
        });
        return { status: 204 };
      }
    }
    if (head === 'usages') {
      if (r.method === 'POST' && parts.length === 1) {
        this.commitUsage(this.checkUsage(r));
        return { status: 201 };
      }
      if (r.method === 'GET' && parts.length === 3) return this.rolledUpUsage(id, sub, r.query);
      if (r.method === 'GET' && parts.length === 2) return this.allRolledUpUsage(id, r.query);
    }
    if (head === 'paymentMethods' && r.method === 'GET' && parts.length === 2) {
      const pm = this.paymentMethods.get(id);
      if (!pm)
        throw new StandInError(
          404,
          KillBillErrorCodes.PAYMENT_NO_SUCH_PAYMENT_METHOD,
          `Payment method ${id} does not exist`,
        );
      return { status: 200, body: pm };
    }
    if (head === 'invoices') {
      if (r.method === 'GET' && parts.length === 2) return { status: 200, body: this.invoice(id) };
      if (r.method === 'POST' && parts.length === 3 && sub === 'payments') return this.payInvoice(id, r);
      if (r.method === 'GET' && parts.length === 3 && sub === 'payments') {
        this.invoice(id);
        return { status: 200, body: [...this.payments.values()].filter((p) => p.targetInvoiceId === id) };
      }
    }
    if ((head === 'payments' || head === 'invoicePayments') && r.method === 'GET' && parts.length === 2) {
      return { status: 200, body: this.payment(id) };
    }
    if (head === 'paymentTransactions' && r.method === 'GET' && parts.length === 1) {
      const key = r.query.get('transactionExternalKey');
      if (!key)
        throw new StandInError(
          400,
          KillBillErrorCodes.PAYMENT_INVALID_PARAMETER,
          'transactionExternalKey needs to be set',
        );
      const payment = [...this.payments.values()].find((p) =>
        p.transactions.some((t) => t.transactionExternalKey === key),
      );
      if (!payment)
        throw new StandInError(
          404,
          KillBillErrorCodes.PAYMENT_NO_SUCH_PAYMENT,
          `Payment with transaction key ${key} does not exist`,
        );
      return { status: 200, body: payment };
    }
    if (head === 'tenants' && id === 'registerNotificationCallback' && parts.length === 2) {
      if (r.method === 'POST') {
        const cb = r.query.get('cb');
        if (!cb || !URL.canParse(cb)) throw new StandInError(400, 0, 'Query parameter cb needs to be a valid URL');
        if (!this.callbacks.includes(cb)) this.callbacks.push(cb);
        return { status: 201, location: '/tenants/registerNotificationCallback' };
      }
      if (r.method === 'GET')
        return { status: 200, body: { key: 'PUSH_NOTIFICATION_CB', values: [...this.callbacks] } };
    }
    throw new StandInError(404, 0, `${r.method} ${BASE}${r.path} is not a Kill Bill resource`);
  }

  private createAccount(r: Request): Answer {
    const body = jsonBody(r);
    const externalKey = requiredString(body, 'externalKey');
    const name = requiredString(body, 'name');
    const currency = requiredString(body, 'currency');
    if (!/^[A-Z]{3}$/.test(currency)) throw new StandInError(400, 3, `Invalid currency ${currency}`);
    if (externalKey.length > 255) throw new StandInError(400, 5, 'External key exceeded 255 characters');
    if (this.accountsByKey.has(externalKey)) {
      throw new StandInError(
        409,
        KillBillErrorCodes.ACCOUNT_ALREADY_EXISTS,
        `Account already exists for key ${externalKey}`,
        'org.killbill.billing.account.api.AccountApiException',
      );
    }
    const account: KillBillAccount = { accountId: randomUUID(), externalKey, name, currency, paymentMethodId: null };
    if (typeof body['email'] === 'string') account.email = body['email'];
    this.accounts.set(account.accountId, account);
    this.accountsByKey.set(externalKey, account.accountId);
    this.notify({
      eventType: 'ACCOUNT_CREATION',
      accountId: account.accountId,
      objectType: 'ACCOUNT',
      objectId: account.accountId,
      metaData: null,
    });
    return { status: 201, location: `/accounts/${account.accountId}` };
  }

  private accountByExternalKey(r: Request): Answer {
    const key = r.query.get('externalKey');
    if (!key)
      throw new StandInError(400, KillBillErrorCodes.ACCOUNT_DOES_NOT_EXIST_FOR_KEY, 'externalKey needs to be set');
    const id = this.accountsByKey.get(key);
    if (!id)
      throw new StandInError(
        404,
        KillBillErrorCodes.ACCOUNT_DOES_NOT_EXIST_FOR_KEY,
        `Account does not exist for key ${key}`,
        'org.killbill.billing.account.api.AccountApiException',
      );
    return { status: 200, body: this.accounts.get(id) };
  }

  private account(id: string): KillBillAccount {
    const account = this.accounts.get(id);
    if (!account)
      throw new StandInError(
        404,
        KillBillErrorCodes.ACCOUNT_DOES_NOT_EXIST_FOR_ID,
        `Account does not exist for id ${id}`,
        'org.killbill.billing.account.api.AccountApiException',
      );
    return account;
  }

  private uploadCatalog(r: Request): Answer {
    const type = String(r.headers['content-type'] ?? '');
    if (!/^(text|application)\/xml\b/.test(type))
      throw new StandInError(415, 0, 'Catalog upload needs Content-Type text/xml');
    const xml = r.raw;
    if (!/<catalog[\s>]/.test(xml) || !xml.includes('</catalog>'))
      throw new StandInError(400, 2080, 'Invalid catalog for tenant : not a catalog document');
    const plans = new Set([...xml.matchAll(/<plan\s+name="([^"]+)"/g)].map((m) => m[1]));
    const units = new Set([...xml.matchAll(/<unit\s+name="([^"]+)"/g)].map((m) => m[1]));
    if (plans.size === 0) throw new StandInError(400, 2080, 'Invalid catalog for tenant : no plans');
    this.catalog = { plans, units, xml };
    return { status: 201, location: '/catalog' };
  }

  private createSubscription(r: Request): Answer {
    const body = jsonBody(r);
    const accountId = requiredString(body, 'accountId');
    const planName = requiredString(body, 'planName');
    this.account(accountId);
    this.requirePlan(planName);
    const subscription: KillBillSubscription = {
      subscriptionId: randomUUID(),
      accountId,
      bundleId: randomUUID(),
      planName,
      productCategory: 'BASE',
      state: 'ACTIVE',
      billingStartDate: today(),
      cancelledDate: null,
    };
    if (typeof body['externalKey'] === 'string') {
      const key = body['externalKey'];
      const active = [...this.subscriptions.values()].find((s) => s.externalKey === key && s.state === 'ACTIVE');
      if (active)
        throw new StandInError(
          409,
          1014,
          `Active bundle with external key ${key} already exists`,
          'org.killbill.billing.subscription.api.user.SubscriptionBaseApiException',
        );
      subscription.externalKey = key;
    }
    this.subscriptions.set(subscription.subscriptionId, subscription);
    this.notify({
      eventType: 'SUBSCRIPTION_CREATION',
      accountId,
      objectType: 'SUBSCRIPTION',
      objectId: subscription.subscriptionId,
      metaData: null,
    });
    return { status: 201, location: `/subscriptions/${subscription.subscriptionId}` };
  }

  private bundles(accountId: string, externalKey: string | null): Answer {
    this.account(accountId);
    const subscriptions = [...this.subscriptions.values()].filter(
      (s) => s.accountId === accountId && (externalKey === null || s.externalKey === externalKey),
    );
    return {
      status: 200,
      body: subscriptions.map((s) => ({
        bundleId: s.bundleId,
        accountId,
        externalKey: s.externalKey,
        subscriptions: [s],
      })),
    };
  }

  private changePlan(id: string, r: Request): Answer {
    const subscription = this.subscription(id);
    const planName = requiredString(jsonBody(r), 'planName');
    this.requirePlan(planName);
    if (subscription.state !== 'ACTIVE')
      throw new StandInError(400, 1021, `Subscription ${id} is in state ${subscription.state}: Failed to change plan`);
    subscription.planName = planName;
    this.notify({
      eventType: 'SUBSCRIPTION_CHANGE',
      accountId: subscription.accountId,
      objectType: 'SUBSCRIPTION',
      objectId: id,
      metaData: null,
    });
    return { status: 204 };
  }

  private requirePlan(planName: string): void {
    if (!this.catalog?.plans.has(planName)) {
      throw new StandInError(
        400,
        KillBillErrorCodes.CAT_NO_SUCH_PLAN,
        `Could not find any plans named '${planName}'`,
        'org.killbill.billing.catalog.api.CatalogApiException',
      );
    }
  }

  private subscription(id: string): KillBillSubscription {
    const subscription = this.subscriptions.get(id);
    if (!subscription)
      throw new StandInError(404, KillBillErrorCodes.SUB_INVALID_SUBSCRIPTION_ID, `Unknown subscription ${id}`);
    return subscription;
  }

  /** POST /usages with the write held `commitMs` between Kill Bill's trackingId check and its insert. */
  private async recordUsage(r: Request, commitMs: number): Promise<Answer> {
    const usage = this.checkUsage(r);
    await sleep(commitMs);
    this.commitUsage(usage);
    return { status: 201 };
  }

  /** What Kill Bill checks before writing usage, its trackingId lookup included (throws like Kill Bill). */
  private checkUsage(r: Request): CheckedUsage {
    this.usagePosts += 1;
    const body = jsonBody(r);
    const subscriptionId = requiredString(body, 'subscriptionId');
    const subscription = this.subscription(subscriptionId);
    if (subscription.state !== 'ACTIVE')
      throw new StandInError(400, 1021, `Subscription ${subscriptionId} is not active`);
    const trackingId =
      typeof body['trackingId'] === 'string' && body['trackingId'] !== '' ? body['trackingId'] : randomUUID();
    const units = body['unitUsageRecords'];
    if (!Array.isArray(units) || units.length === 0)
      throw new StandInError(400, 0, 'unitUsageRecords needs to be a non-empty array');
    const additions: Array<[string, string, bigint]> = [];
    for (const unit of units as unknown[]) {
      const record = asObject(unit, 'unitUsageRecords[]');
      const unitType = requiredString(record, 'unitType');
      if (!this.catalog?.units.has(unitType)) throw new StandInError(400, 0, `Unknown unit type ${unitType}`);
      const usageRecords = record['usageRecords'];
      if (!Array.isArray(usageRecords) || usageRecords.length === 0)
        throw new StandInError(400, 0, 'usageRecords needs to be a non-empty array');
      for (const entry of usageRecords as unknown[]) {
        const usage = asObject(entry, 'usageRecords[]');
        const recordDate = requiredString(usage, 'recordDate');
        if (!DATE.test(recordDate.slice(0, 10)) || Number.isNaN(Date.parse(recordDate)))
          throw new StandInError(400, 0, `Invalid recordDate ${recordDate}`);
        const amount = usage['amount'];
        if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0)
          throw new StandInError(400, 0, `Invalid usage amount ${String(amount)}`);
        additions.push([unitType, recordDate.slice(0, 10), toMicro(amount)]);
      }
    }
    if (this.trackingIds.has(trackingId)) {
      throw new StandInError(
        400,
        KillBillErrorCodes.USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS,
        `A usage record with tracking ID ${trackingId} already exists`,
        'org.killbill.billing.usage.api.UsageApiException',
      );
    }
    return { subscriptionId, trackingId, additions };
  }

  private commitUsage({ subscriptionId, trackingId, additions }: CheckedUsage): void {
    this.trackingIds.add(trackingId);
    this.trackingWrites.set(trackingId, (this.trackingWrites.get(trackingId) ?? 0) + 1);
    const byUnit = this.usage.get(subscriptionId) ?? new Map<string, Map<string, bigint>>();
    this.usage.set(subscriptionId, byUnit);
    for (const [unitType, date, micro] of additions) {
      const byDate = byUnit.get(unitType) ?? new Map<string, bigint>();
      byUnit.set(unitType, byDate);
      byDate.set(date, (byDate.get(date) ?? 0n) + micro);
    }
  }

  /** GET /usages/{subscriptionId}?startDate&endDate: every unit's total in [startDate, endDate). */
  private allRolledUpUsage(subscriptionId: string, query: URLSearchParams): Answer {
    this.subscription(subscriptionId);
    const { startDate, endDate } = usageWindow(query);
    const rolledUpUnits = [...(this.usage.get(subscriptionId) ?? [])].map(([unitType, byDate]) => {
      let total = 0n;
      for (const [date, amount] of byDate) if (date >= startDate && date < endDate) total += amount;
      return { unitType, amount: Number(fromMicro(total)) };
    });
    return { status: 200, body: { subscriptionId, startDate, endDate, rolledUpUnits } };
  }

  private rolledUpUsage(subscriptionId: string, unitType: string, query: URLSearchParams): Answer {
    this.subscription(subscriptionId);
    const { startDate, endDate } = usageWindow(query);
    let total = 0n;
    for (const [date, amount] of this.usage.get(subscriptionId)?.get(unitType) ?? []) {
      if (date >= startDate && date < endDate) total += amount;
    }
    return {
      status: 200,
      body: { subscriptionId, startDate, endDate, rolledUpUnits: [{ unitType, amount: Number(fromMicro(total)) }] },
    };
  }

  private addPaymentMethod(accountId: string, r: Request): Answer {
    const account = this.account(accountId);
    const body = jsonBody(r);
    const pluginName = requiredString(body, 'pluginName');
    const info = body['pluginInfo'] === undefined ? {} : asObject(body['pluginInfo'], 'pluginInfo');
    const properties = info['properties'] ?? [];
    if (
      !Array.isArray(properties) ||
      !properties.every(
        (p) => typeof p === 'object' && p !== null && typeof (p as Record<string, unknown>)['key'] === 'string',
      )
    ) {
      throw new StandInError(
        400,
        KillBillErrorCodes.PAYMENT_INVALID_PARAMETER,
        'pluginInfo.properties needs to be an array of {key, value}',
      );
    }
    const method: KillBillPaymentMethod = {
      paymentMethodId: randomUUID(),
      accountId,
      externalKey: typeof body['externalKey'] === 'string' ? body['externalKey'] : randomUUID(),
      isDefault: false,
      pluginName,
      pluginInfo: { properties: properties as KillBillPluginProperty[] },
    };
    this.paymentMethods.set(method.paymentMethodId, method);
    if (r.query.get('isDefault') === 'true' || !account.paymentMethodId)
      this.makeDefault(account, method.paymentMethodId);
    return { status: 201, location: `/paymentMethods/${method.paymentMethodId}` };
  }

  private setDefault(accountId: string, paymentMethodId: string): Answer {
    const account = this.account(accountId);
    const method = this.paymentMethods.get(paymentMethodId);
    if (!method || method.accountId !== accountId)
      throw new StandInError(
        404,
        KillBillErrorCodes.PAYMENT_NO_SUCH_PAYMENT_METHOD,
        `Payment method ${paymentMethodId} does not exist`,
      );
    this.makeDefault(account, paymentMethodId);
    return { status: 204 };
  }

  private makeDefault(account: KillBillAccount, paymentMethodId: string): void {
    account.paymentMethodId = paymentMethodId;
    for (const pm of this.paymentMethods.values())
      if (pm.accountId === account.accountId) pm.isDefault = pm.paymentMethodId === paymentMethodId;
  }

  private invoice(id: string): KillBillInvoice {
    const invoice = this.invoices.get(id);
    if (!invoice)
      throw new StandInError(404, KillBillErrorCodes.INVOICE_NOT_FOUND, `No invoice could be found for id ${id}.`);
    return invoice;
  }

  private payment(id: string): KillBillPayment {
    const payment = this.payments.get(id);
    if (!payment)
      throw new StandInError(404, KillBillErrorCodes.PAYMENT_NO_SUCH_PAYMENT, `Payment ${id} does not exist`);
    return payment;
  }

  private payInvoice(invoiceId: string, r: Request): Answer {
    const invoice = this.invoice(invoiceId);
    const body = jsonBody(r);
    const accountId = requiredString(body, 'accountId');
    if (accountId !== invoice.accountId)
      throw new StandInError(400, 7034, `Payment ${invoiceId} has a different account id`);
    const account = this.account(accountId);
    const paymentMethodId =
      typeof body['paymentMethodId'] === 'string' ? body['paymentMethodId'] : account.paymentMethodId;
    const method = paymentMethodId ? this.paymentMethods.get(paymentMethodId) : undefined;
    if (!method || method.accountId !== accountId)
      throw new StandInError(
        400,
        KillBillErrorCodes.PAYMENT_NO_SUCH_PAYMENT_METHOD,
        `Payment method ${String(paymentMethodId)} does not exist`,
      );
    const amount = body['purchasedAmount'] === undefined ? invoice.balance : body['purchasedAmount'];
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0)
      throw new StandInError(
        400,
        KillBillErrorCodes.PAYMENT_INVALID_PARAMETER,
        'Invalid parameter purchasedAmount: must be > 0',
      );
    if (invoice.balance <= 0) throw new StandInError(400, 7017, `Invoice ${invoiceId} has a balance <= 0 `);
    const transactionExternalKey =
      typeof body['transactionExternalKey'] === 'string' ? body['transactionExternalKey'] : randomUUID();
    const previous = [...this.payments.values()]
      .flatMap((p) => p.transactions)
      .find((t) => t.transactionExternalKey === transactionExternalKey);
    if (previous?.status === 'SUCCESS') {
      throw new StandInError(
        400,
        KillBillErrorCodes.PAYMENT_ACTIVE_TRANSACTION_KEY_EXISTS,
        `Successful transaction with external key ${transactionExternalKey} already exists`,
      );
    }
    return this.purchase(invoice, method, amount, transactionExternalKey);
  }

  private purchase(
    invoice: KillBillInvoice,
    method: KillBillPaymentMethod,
    amount: number,
    transactionExternalKey: string,
  ): Answer {
    const accountId = invoice.accountId;
    const invoiceId = invoice.invoiceId;
    const failure = this.failingPlugins.get(method.pluginName);
    const status = failure === 402 ? 'PAYMENT_FAILURE' : failure === 502 ? 'PLUGIN_FAILURE' : 'SUCCESS';
    const paymentId = randomUUID();
    const payment: KillBillPayment = {
      paymentId,
      accountId,
      paymentNumber: String(this.payments.size + 1),
      paymentExternalKey: paymentId,
      paymentMethodId: method.paymentMethodId,
      targetInvoiceId: invoiceId,
      purchasedAmount: status === 'SUCCESS' ? amount : 0,
      currency: invoice.currency,
      transactions: [
        {
          transactionId: randomUUID(),
          transactionExternalKey,
          paymentId,
          transactionType: 'PURCHASE',
          amount,
          currency: invoice.currency,
          status,
          gatewayErrorCode:
            status === 'SUCCESS' ? null : status === 'PAYMENT_FAILURE' ? 'card_declined' : 'plugin_error',
          gatewayErrorMsg:
            status === 'SUCCESS'
              ? null
              : `${method.pluginName}: ${status === 'PAYMENT_FAILURE' ? 'payment declined' : 'plugin failed'}`,
        },
      ],
    };
    this.payments.set(paymentId, payment);
    if (status === 'SUCCESS') {
      invoice.balance = Math.max(0, Math.round((invoice.balance - amount) * 100) / 100);
      this.notify({
        eventType: 'PAYMENT_SUCCESS',
        accountId,
        objectType: 'PAYMENT',
        objectId: paymentId,
        metaData: null,
      });
      this.notify({
        eventType: 'INVOICE_PAYMENT_SUCCESS',
        accountId,
        objectType: 'INVOICE',
        objectId: invoiceId,
        metaData: null,
      });
      return { status: 201, location: `/invoicePayments/${paymentId}` };
    }
    this.notify({ eventType: 'PAYMENT_FAILED', accountId, objectType: 'PAYMENT', objectId: paymentId, metaData: null });
    this.notify({
      eventType: 'INVOICE_PAYMENT_FAILED',
      accountId,
      objectType: 'INVOICE',
      objectId: invoiceId,
      metaData: null,
    });
    return { status: failure as number, body: payment };
  }
}

/** The first injection matching the request, used up once. */
function take<T extends { method?: string; pathPrefix?: string; bodyIncludes?: string; times: number }>(
  list: T[],
  method: string,
  path: string,
  raw: string,
): T | undefined {
  const index = list.findIndex(
    (f) =>
      (f.method === undefined || f.method === method) &&
      (f.pathPrefix === undefined || path.startsWith(f.pathPrefix)) &&
      (f.bodyIncludes === undefined || raw.includes(f.bodyIncludes)),
  );
  if (index < 0) return undefined;
  const injection = list[index];
  injection.times -= 1;
  if (injection.times <= 0) list.splice(index, 1);
  return injection;
}

function errorAnswer(error: unknown): Answer {
  if (error instanceof StandInError) {
    return {
      status: error.status,
      body: {
        className: error.className,
        code: error.code,
        message: error.message,
        causeClassName: null,
        causeMessage: null,
      },
    };
  }
  const message = errorMessage(error);
  return {
    status: 500,
    body: { className: 'java.lang.RuntimeException', code: 4, message, causeClassName: null, causeMessage: null },
  };
}

function jsonBody(r: Request): Record<string, unknown> {
  const type = String(r.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) throw new StandInError(415, 0, 'Content-Type application/json expected');
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.raw);
  } catch {
    throw new StandInError(400, 0, 'Malformed JSON body', 'com.fasterxml.jackson.core.JsonParseException');
  }
  return asObject(parsed, 'body');
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new StandInError(400, 0, `${what} needs to be a JSON object`);
  return value as Record<string, unknown>;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.trim() === '') throw new StandInError(400, 0, `${field} needs to be set`);
  return value;
}

function toMicro(amount: number): bigint {
  return BigInt(Math.round(amount * 1_000_000));
}

function fromMicro(micro: bigint): string {
  const whole = micro / MICRO;
  const fraction = (micro % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
