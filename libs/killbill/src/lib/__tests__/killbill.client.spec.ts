// Specification of the Kill Bill client against the strict stand-in (real HTTP through the egress client): headers,
// 201 + Location, typed errors, retries only where they are safe, the circuit breaker, payments never doubled
// after a 503/504, request timeouts, and secrets kept out of logs and error messages.
import { Logger, type LoggerService } from '@nestjs/common';
import { testPlatformConfig } from '@sovren/config/testing';
import { EgressClient } from '@sovren/egress';
import { MetricsService, runWithRequestId } from '@sovren/observability';
import { eventually } from '@sovren/testing';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { KillBillStandIn } from '../../testing/killbill-stand-in.server';
import { KillBillClient, type KillBillClientOptions } from '../killbill.client';
import { KillBillError, KillBillErrorCodes, parseErrorBody } from '../killbill.errors';

jest.setTimeout(30_000);

const CATALOG = readFileSync(resolve(__dirname, '../../../../../deploy/killbill/catalog.xml'), 'utf8');

class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, ...rest: unknown[]): void {
    this.lines.push(JSON.stringify([message, ...rest]));
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.log(message, ...rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.log(message, ...rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.log(message, ...rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.log(message, ...rest);
  }
}

describe('KillBillClient against the Kill Bill stand-in', () => {
  let standIn: KillBillStandIn;
  let egress: EgressClient;
  const logs = new CapturingLogger();

  beforeAll(async () => {
    Logger.overrideLogger(logs);
    standIn = await KillBillStandIn.start({ apiSecret: 'tenant-secret-S3CR3T', password: 'basic-password-P4SS' });
    egress = new EgressClient(
      testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: standIn.hostPort }),
      new MetricsService('killbill-test'),
    );
    await client().uploadCatalogXml(CATALOG);
  });

  afterAll(async () => {
    await standIn?.stop();
  });

  function client(overrides: Partial<KillBillClientOptions> = {}): KillBillClient {
    return new KillBillClient(egress, {
      baseUrl: standIn.url,
      apiKey: standIn.apiKey,
      apiSecret: standIn.apiSecret,
      username: standIn.username,
      password: standIn.password,
      createdBy: 'killbill-tests',
      retryBaseMs: 20,
      retryMaxMs: 100,
      timeoutMs: 2_000,
      ...overrides,
    });
  }

  /** Requests the stand-in received from now on. */
  function recorder(): () => Array<{ method: string; path: string; status: number; requestId?: string }> {
    const from = standIn.requests.length;
    return () => standIn.requests.slice(from);
  }

  async function failure(work: Promise<unknown>): Promise<KillBillError> {
    const error = await work.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (!(error instanceof KillBillError)) throw new Error(`expected a KillBillError, got ${String(error)}`);
    return error;
  }

  let keys = 0;
  async function newAccount(kb = client()) {
    keys += 1;
    return kb.createAccount({ externalKey: `owner-${keys}-${Date.now()}`, name: 'Owner', currency: 'USD' });
  }

  it('follows 201 + Location with a GET and answers the created resource; a repeat finds the existing account', async () => {
    const seen = recorder();
    const account = await client().createAccount({ externalKey: 'owner-location', name: 'Owner', currency: 'USD' });
    expect(account).toMatchObject({ externalKey: 'owner-location', currency: 'USD' });
    expect(seen()).toEqual([
      { method: 'POST', path: '/accounts', status: 201 },
      { method: 'GET', path: `/accounts/${account.accountId}`, status: 200 },
    ]);
    const again = await client().createAccount({ externalKey: 'owner-location', name: 'Owner', currency: 'USD' });
    expect(again.accountId).toBe(account.accountId);
    expect(seen().map((r) => r.status)).toEqual([201, 200, 409, 200]);
  });

  it("sends X-Request-Id on every request: the one given with a write, else the request context's, else none", async () => {
    let seen = recorder();
    const account = await runWithRequestId('req-context-1', () =>
      client().createAccount({ externalKey: `owner-request-id-${Date.now()}`, name: 'Owner', currency: 'USD' }),
    );
    // The POST and the GET that follows its Location both carry the context's id.
    expect(seen().map((r) => [r.method, r.requestId])).toEqual([
      ['POST', 'req-context-1'],
      ['GET', 'req-context-1'],
    ]);

    seen = recorder();
    await runWithRequestId('req-context-2', () =>
      client().createSubscription(
        { accountId: account.accountId, planName: 'sovren-free-monthly' },
        { requestId: 'req-explicit' },
      ),
    );
    // The id given with the write wins for the POST; the follow-up read has only the context's.
    expect(seen().map((r) => [r.method, r.requestId])).toEqual([
      ['POST', 'req-explicit'],
      ['GET', 'req-context-2'],
    ]);

    seen = recorder();
    await client().getAccount(account.accountId);
    expect(seen()).toEqual([{ method: 'GET', path: `/accounts/${account.accountId}`, status: 200 }]);
  });

  it("needs X-Killbill-CreatedBy on writes (400 with Kill Bill's error body) and the tenant keys (401), typed and not retried", async () => {
    const raw = await fetch(`${standIn.url}/1.0/kb/accounts`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${standIn.username}:${standIn.password}`).toString('base64')}`,
        'x-killbill-apikey': standIn.apiKey,
        'x-killbill-apisecret': standIn.apiSecret,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ externalKey: 'no-created-by', name: 'x', currency: 'USD' }),
    });
    expect(raw.status).toBe(400);
    expect(parseErrorBody(await raw.text())).toMatchObject({ message: 'Header X-Killbill-CreatedBy needs to be set' });
    expect(standIn.accountByKey('no-created-by')).toBeUndefined();
    expect(() => client({ createdBy: '' })).toThrow(/createdBy/);

    const seen = recorder();
    const wrongTenant = await failure(
      client({ apiSecret: 'wrong-tenant-secret' }).getAccountByExternalKey('owner-location'),
    );
    expect(wrongTenant).toMatchObject({ kind: 'configuration', status: 401, retryable: false });
    expect(wrongTenant.body?.className).toMatch(/AuthenticationException/);
    const wrongUser = await failure(client({ password: 'not-the-password' }).getAccountByExternalKey('owner-location'));
    expect(wrongUser).toMatchObject({ kind: 'configuration', status: 401 });
    expect(seen()).toHaveLength(2); // one request each: a 4xx is never repeated
  });

  it('calls an egress allowlist that refuses Kill Bill a configuration fault and leaves the circuit closed', async () => {
    const refusing = new KillBillClient(
      new EgressClient(
        testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: 'billing.example.com' }),
        new MetricsService('killbill-refused-test'),
      ),
      {
        baseUrl: standIn.url,
        apiKey: standIn.apiKey,
        apiSecret: standIn.apiSecret,
        username: standIn.username,
        password: standIn.password,
        createdBy: 'killbill-tests',
        breakerFailureThreshold: 2,
      },
    );
    const seen = recorder();
    for (let i = 0; i < 3; i += 1) {
      expect(await failure(refusing.getAccountByExternalKey('owner-location'))).toMatchObject({
        kind: 'configuration',
        status: undefined,
        retryable: false,
      });
    }
    expect(refusing.circuitState).toBe('closed');
    expect(seen()).toEqual([]);
  });

  it("turns Kill Bill's error body into a typed KillBillError", async () => {
    const error = await failure(client().getAccount('6b3f6c1e-0000-4000-8000-000000000000'));
    expect(error).toMatchObject({
      name: 'KillBillError',
      kind: 'client',
      status: 404,
      code: KillBillErrorCodes.ACCOUNT_DOES_NOT_EXIST_FOR_ID,
    });
    expect(error.body).toMatchObject({
      className: 'org.killbill.billing.account.api.AccountApiException',
      message: expect.stringContaining('Account does not exist'),
    });
    expect(error.message).toMatch(/GET \/accounts\/\{accountId\} answered 404: Account does not exist/);

    const account = await newAccount();
    const plan = await failure(
      client().createSubscription({ accountId: account.accountId, planName: 'gold-unlimited' }),
    );
    expect(plan).toMatchObject({ kind: 'client', status: 400, code: KillBillErrorCodes.CAT_NO_SUCH_PLAN });
  });

  it('retries 5xx with backoff and succeeds, but never retries a 4xx', async () => {
    const account = await newAccount();
    let seen = recorder();
    standIn.injectFailure({ method: 'GET', pathPrefix: `/accounts/${account.accountId}`, status: 503, times: 2 });
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const retrying = client({ retryBaseMs: 100, retryMaxMs: 1_000, random: () => 0.5, sleep });
    await expect(retrying.getAccount(account.accountId)).resolves.toMatchObject({ accountId: account.accountId });
    // Exponential backoff with full jitter: ceilings 100 ms then 200 ms, each delay drawn below its ceiling.
    expect(waits).toEqual([50, 100]);
    expect(seen().map((r) => r.status)).toEqual([503, 503, 200]);

    seen = recorder();
    standIn.injectFailure({ method: 'GET', pathPrefix: `/accounts/${account.accountId}`, status: 500, times: 3 });
    expect(await failure(client({ maxAttempts: 3 }).getAccount(account.accountId))).toMatchObject({
      kind: 'unavailable',
      status: 500,
      retryable: true,
    });
    expect(seen()).toHaveLength(3);

    seen = recorder();
    standIn.injectFailure({ method: 'GET', pathPrefix: `/accounts/${account.accountId}`, status: 400, times: 1 });
    expect(await failure(client().getAccount(account.accountId))).toMatchObject({ kind: 'client', status: 400 });
    expect(seen()).toHaveLength(1);

    // A usage POST whose answer was a 5xx is not repeated by the client (its outcome is unknown; the caller looks it
    // up first). Sent again with the same trackingId it answers duplicate, never a second record.
    const subscription = await client().createSubscription({
      accountId: account.accountId,
      planName: 'sovren-free-monthly',
    });
    standIn.injectFailure({ method: 'POST', pathPrefix: '/usages', status: 503, times: 1, afterProcessing: true });
    const record = {
      subscriptionId: subscription.subscriptionId,
      trackingId: 'track-retry-1',
      unitUsageRecords: [{ unitType: 'llm_tokens_in', usageRecords: [{ recordDate: '2026-03-01', amount: 5 }] }],
    };
    seen = recorder();
    expect(await failure(client().recordUsage(record))).toMatchObject({ kind: 'unavailable', status: 503 });
    expect(seen()).toHaveLength(1);
    expect(standIn.recordedTotal(subscription.subscriptionId, 'llm_tokens_in')).toBe('5');
    await expect(client().recordUsage(record)).resolves.toBe('duplicate');
    expect(standIn.recordedTotal(subscription.subscriptionId, 'llm_tokens_in')).toBe('5');
    const all = await client().getAllRolledUpUsage(subscription.subscriptionId, '2026-03-01', '2026-03-02');
    expect(all.rolledUpUnits).toEqual([{ unitType: 'llm_tokens_in', amount: 5 }]);
  });

  it('honours the request timeout and retries a timed-out GET', async () => {
    const account = await newAccount();
    const before = standIn.requests.filter((r) => r.path === `/accounts/${account.accountId}`).length;
    const handled = () => standIn.requests.filter((r) => r.path === `/accounts/${account.accountId}`).length - before;
    standIn.injectDelay({ method: 'GET', pathPrefix: `/accounts/${account.accountId}`, ms: 2_000, times: 1 });
    const started = Date.now();
    const error = await failure(client({ timeoutMs: 200, maxAttempts: 1 }).getAccount(account.accountId));
    expect(error).toMatchObject({ kind: 'unavailable', status: undefined });
    expect(error.message).toMatch(/timed out after 200 ms/);
    expect(handled()).toBe(0); // the client gave up before the slow answer came
    // The stand-in still finishes the abandoned request; let it, so later tests see only their own requests.
    await eventually('the stand-in to finish the abandoned request', () => handled() > 0, { timeoutMs: 10_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);

    standIn.injectDelay({ method: 'GET', pathPrefix: `/accounts/${account.accountId}`, ms: 1_000, times: 1 });
    await expect(client({ timeoutMs: 200, maxAttempts: 2 }).getAccount(account.accountId)).resolves.toMatchObject({
      accountId: account.accountId,
    });
    await eventually('the stand-in to finish every request', () => handled() >= 3, { timeoutMs: 10_000 });
  });

  it('opens the circuit after N failures (no request leaves), half-opens after the cool-down and closes on success', async () => {
    const kb = client({ maxAttempts: 1, breakerFailureThreshold: 3, breakerOpenMs: 300 });
    const account = await newAccount(kb);
    await standIn.stop();
    try {
      for (let i = 0; i < 3; i += 1)
        expect(await failure(kb.getAccount(account.accountId))).toMatchObject({ kind: 'unavailable' });
      expect(kb.circuitState).toBe('open');
    } finally {
      await standIn.start();
    }
    const seen = recorder();
    const open = await failure(kb.getAccount(account.accountId));
    expect(open).toMatchObject({ kind: 'circuit_open', retryable: true });
    expect(seen()).toEqual([]); // failed fast: Kill Bill was not asked

    await new Promise((resolve) => setTimeout(resolve, 350));
    // A failing trial call opens the circuit again at once.
    standIn.injectFailure({ method: 'GET', status: 503, times: 1 });
    expect(await failure(kb.getAccount(account.accountId))).toMatchObject({ kind: 'unavailable', status: 503 });
    expect(kb.circuitState).toBe('open');
    await new Promise((resolve) => setTimeout(resolve, 350));
    await expect(kb.getAccount(account.accountId)).resolves.toMatchObject({ accountId: account.accountId });
    expect(kb.circuitState).toBe('closed');
  });

  describe('payments after 503/504', () => {
    async function invoiceWithMethod() {
      const kb = client();
      const account = await newAccount(kb);
      const method = await kb.addPaymentMethod(account.accountId, {
        pluginName: 'killbill-stripe',
        properties: [{ key: 'token', value: 'tok_1' }],
        isDefault: true,
      });
      const invoice = standIn.createInvoice(account.accountId, 25);
      return { kb, account, method, invoice };
    }

    it('looks the payment up by transactionExternalKey after a 503 that charged, and does not pay again', async () => {
      const { kb, account, method, invoice } = await invoiceWithMethod();
      standIn.injectFailure({
        method: 'POST',
        pathPrefix: `/invoices/${invoice.invoiceId}/payments`,
        status: 503,
        times: 1,
        afterProcessing: true,
      });
      const seen = recorder();
      const outcome = await kb.payInvoice({
        invoiceId: invoice.invoiceId,
        accountId: account.accountId,
        paymentMethodId: method.paymentMethodId,
        amount: 25,
        transactionExternalKey: `${invoice.invoiceId}:1`,
      });
      expect(outcome.status).toBe('success');
      expect(seen().map((r) => `${r.method} ${r.path.split('/')[1]} ${r.status}`)).toEqual([
        'POST invoices 503',
        'GET paymentTransactions 200',
      ]);
      const payments = await kb.getPayments(account.accountId);
      expect(payments).toHaveLength(1);
      expect((await kb.getInvoice(invoice.invoiceId)).balance).toBe(0);
    });

    it('repeats the payment with the same key after a 504 that did not charge, once the look-up finds nothing', async () => {
      const { kb, account, method, invoice } = await invoiceWithMethod();
      standIn.injectFailure({
        method: 'POST',
        pathPrefix: `/invoices/${invoice.invoiceId}/payments`,
        status: 504,
        times: 1,
      });
      const seen = recorder();
      const outcome = await kb.payInvoice({
        invoiceId: invoice.invoiceId,
        accountId: account.accountId,
        paymentMethodId: method.paymentMethodId,
        amount: 25,
        transactionExternalKey: `${invoice.invoiceId}:1`,
      });
      expect(outcome.status).toBe('success');
      expect(seen().map((r) => `${r.method} ${r.path.split('/')[1]} ${r.status}`)).toEqual([
        'POST invoices 504',
        'GET paymentTransactions 404',
        'POST invoices 201',
        'GET invoicePayments 200',
      ]);
      expect(await kb.getPayments(account.accountId)).toHaveLength(1);
    });

    it('reports 402 and 502 as outcomes without retrying', async () => {
      const { kb, account, method, invoice } = await invoiceWithMethod();
      standIn.failPaymentsFor('killbill-stripe', 402);
      try {
        const seen = recorder();
        const declined = await kb.payInvoice({
          invoiceId: invoice.invoiceId,
          accountId: account.accountId,
          paymentMethodId: method.paymentMethodId,
          amount: 25,
          transactionExternalKey: `${invoice.invoiceId}:d`,
        });
        expect(declined.status).toBe('declined');
        expect(seen()).toHaveLength(1);
        standIn.failPaymentsFor('killbill-stripe', 502);
        const broken = await kb.payInvoice({
          invoiceId: invoice.invoiceId,
          accountId: account.accountId,
          paymentMethodId: method.paymentMethodId,
          amount: 25,
          transactionExternalKey: `${invoice.invoiceId}:p`,
        });
        expect(broken.status).toBe('plugin_failure');
      } finally {
        standIn.failPaymentsFor('killbill-stripe', null);
      }
    });
  });

  it('never puts the tenant secret, the password or the basic credentials in logs or error messages', async () => {
    const secrets = [
      standIn.apiSecret,
      standIn.password,
      Buffer.from(`${standIn.username}:${standIn.password}`).toString('base64'),
    ];
    const messages: string[] = [];
    messages.push((await failure(client({ apiSecret: 'wrong-S3CR3T-value' }).getAccountByExternalKey('x'))).message);
    standIn.injectFailure({ method: 'GET', status: 503, times: 3 });
    messages.push((await failure(client().getAccountByExternalKey('x'))).message);
    await standIn.stop();
    try {
      const down = await failure(client({ maxAttempts: 1 }).getAccountByExternalKey('x'));
      messages.push(down.message, String((down as Error & { cause?: unknown }).cause));
    } finally {
      await standIn.start();
    }
    const everything = [...messages, ...logs.lines].join('\n');
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const secret of [...secrets, 'wrong-S3CR3T-value']) expect(everything).not.toContain(secret);
  });
});
