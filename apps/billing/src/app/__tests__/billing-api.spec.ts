// Specification of the guarded /api/v1/billing HTTP API: the real billing app behind the real auth app (an API
// key created through auth, auth.validate over NATS), the strict Kill Bill stand-in, PostgreSQL and JetStream.
// Every answer is the platform envelope; a refused request leaves the ledger and Kill Bill untouched.
import { ensureStreams, usageSubject, type UsageEventV1 } from '@sovren/messaging';
import { eventually } from '@sovren/testing';
import { connect, JSONCodec, type NatsConnection } from 'nats';

import { startBillingWithAuth, type BillingWithAuth, type HttpAnswer } from './support/billing-with-auth';

jest.setTimeout(120_000);

const UNKNOWN_UUID = '3f0c2a9e-5b7d-4e21-9a4c-0d6f1e2b3c4d';

describe('/api/v1/billing over HTTP', () => {
  let setup: BillingWithAuth;
  let base: string;
  let nc: NatsConnection;

  beforeAll(async () => {
    setup = await startBillingWithAuth();
    base = `${setup.billing.url}/api/v1/billing`;
    nc = await connect({ servers: setup.environment.nats.url });
    await ensureStreams(await nc.jetstreamManager());
  });

  afterAll(async () => {
    await nc?.drain();
    await setup?.dispose();
  });

  const asUser = (key = setup.apiKey) => ({ authorization: `Bearer ${key}` });
  const asAdmin = () => ({ authorization: `Bearer ${setup.adminToken}` });

  function send<T = unknown>(
    path: string,
    options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<HttpAnswer<T>> {
    return setup.call<T>(`${base}${path}`, { headers: asUser(), ...options });
  }

  /** What a refused request must not change: Kill Bill writes, the ledger, payment attempts, accounts. */
  async function footprint(): Promise<Record<string, number>> {
    const count = async (table: string) =>
      Number((await setup.environment.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);
    return {
      killbillWrites: setup.environment.killbill.requests.filter((r) => r.method !== 'GET').length,
      ledger: await count('billing_usage_ledger'),
      attempts: await count('billing_payment_attempts'),
      accounts: await count('billing_accounts'),
    };
  }

  function expectFailure(answer: HttpAnswer, status: number, code: string): void {
    expect({ status: answer.status, success: answer.body.success, code: answer.body.error?.code }).toEqual({
      status,
      success: false,
      code,
    });
    expect(typeof answer.body.error?.message).toBe('string');
    expect(answer.body.data).toBeUndefined();
  }

  function fieldsOf(answer: HttpAnswer): string[] {
    return ((answer.body.error?.details ?? []) as Array<{ field: string }>).map((problem) => problem.field);
  }

  it('answers 401 in the envelope without credentials or with a foreign key, and creates nothing', async () => {
    const before = await footprint();
    for (const path of ['/account', '/usage', '/invoices', '/payments', '/admin/owners/x/account']) {
      expectFailure(await send(path, { headers: {} }), 401, 'UNAUTHORIZED');
    }
    expectFailure(
      await send('/account', { headers: { authorization: 'Bearer sk_not_a_real_key_0000000000' } }),
      401,
      'UNAUTHORIZED',
    );
    expectFailure(
      await send('/subscription', { method: 'PUT', headers: {}, body: { plan: 'sovren-premium-monthly' } }),
      401,
      'UNAUTHORIZED',
    );
    expect(await footprint()).toEqual(before);
  });

  it('lists the plans and shows the owner its account, created lazily and once', async () => {
    const plans = await send<Array<{ name: string; tier: string }>>('/plans');
    expect(plans.status).toBe(200);
    expect(plans.body.success).toBe(true);
    expect(plans.body.data?.map((plan) => plan.tier)).toEqual(['free', 'authenticated', 'premium']);

    const killbillCalls = () => {
      const from = setup.environment.killbill.requests.length;
      return () => setup.environment.killbill.requests.slice(from);
    };
    let seen = killbillCalls();
    const first = await send<{
      ownerId: string;
      accountId: string;
      subscriptionId: string;
      planName: string;
      standing: string;
    }>('/account', {
      headers: { ...asUser(), 'x-request-id': 'req-billing-account-1' },
    });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      success: true,
      data: { ownerId: setup.userId, planName: 'sovren-free-monthly', standing: 'good' },
    });
    // Every Kill Bill call made while serving the request (the lazy account and subscription: writes and the reads
    // that follow their Location) carries the caller's X-Request-Id.
    expect(
      seen()
        .filter((r) => r.method === 'POST')
        .map((r) => r.path),
    ).toEqual(['/accounts', '/subscriptions']);
    expect(new Set(seen().map((r) => r.requestId))).toEqual(new Set(['req-billing-account-1']));
    seen = killbillCalls();
    const again = await send<unknown[]>('/invoices');
    expect(again.status).toBe(200);
    // Without one, the id billing gave the request (echoed in the answer) is the one Kill Bill sees.
    const generated = again.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen().map((r) => [r.method, r.path, r.requestId])).toEqual([
      ['GET', `/accounts/${first.body.data?.accountId}/invoices`, generated],
    ]);
    const accountAgain = await send<{ accountId: string }>('/account');
    expect(accountAgain.body.data?.accountId).toBe(first.body.data?.accountId);
    expect(setup.environment.killbill.accountByKey(setup.userId)?.accountId).toBe(first.body.data?.accountId);
  });

  it('shows usage by unit and day from the ledger, and refuses a malformed range with field details', async () => {
    const js = nc.jetstream();
    const codec = JSONCodec<UsageEventV1>();
    const event = (n: number, day: string, quantities: UsageEventV1['quantities']): UsageEventV1 => ({
      v: 1,
      eventId: `api-usage-${n}`,
      requestId: `req-${n}`,
      ownerId: setup.userId,
      source: 'inference',
      quantities,
      occurredAt: `${day}T10:00:00.000Z`,
    });
    const events = [
      event(1, '2026-02-01', { llm_tokens_in: 100, llm_tokens_out: 40 }),
      event(2, '2026-02-01', { llm_tokens_in: 23 }),
      event(3, '2026-02-02', { llm_tokens_in: 7 }),
    ];
    for (const item of events) await js.publish(usageSubject('inference'), codec.encode(item), { msgID: item.eventId });
    await eventually('usage recorded', async () => {
      const [row] = await setup.environment.query<{ n: string }>(
        `SELECT count(*) AS n FROM billing_usage_ledger l JOIN billing_usage_batches b ON b.tracking_id = l.batch_id
          WHERE l.event_id LIKE 'api-usage-%' AND b.status = 'recorded'`,
      );
      return Number(row.n) === events.length;
    });
    // The consumer's Kill Bill calls carry a request id derived from the batch: `usage-<trackingId>`.
    const batches = await setup.environment.query<{ tracking_id: string }>(
      `SELECT DISTINCT l.batch_id AS tracking_id FROM billing_usage_ledger l WHERE l.event_id LIKE 'api-usage-%'`,
    );
    const usagePosts = setup.environment.killbill.requests.filter((r) => r.method === 'POST' && r.path === '/usages');
    expect(batches.length).toBeGreaterThan(0);
    for (const { tracking_id } of batches) {
      expect(usagePosts.filter((r) => r.requestId === `usage-${tracking_id}`).length).toBeGreaterThan(0);
    }
    expect(usagePosts.every((r) => /^usage-[0-9a-f]{64}$/.test(r.requestId ?? ''))).toBe(true);

    const usage = await send<{ usage: Array<{ day: string; unit: string; amount: number }> }>(
      '/usage?from=2026-02-01&to=2026-02-03',
    );
    expect(usage.status).toBe(200);
    expect(usage.body.data?.usage).toEqual([
      { day: '2026-02-01', unit: 'llm_tokens_in', amount: 123 },
      { day: '2026-02-01', unit: 'llm_tokens_out', amount: 40 },
      { day: '2026-02-02', unit: 'llm_tokens_in', amount: 7 },
    ]);
    // Another owner sees none of it.
    const foreign = await send<{ usage: unknown[] }>('/usage?from=2026-02-01&to=2026-02-03', {
      headers: asUser(setup.otherApiKey),
    });
    expect(foreign.body.data?.usage).toEqual([]);

    const before = await footprint();
    const malformed = await send('/usage?from=yesterday&to=2026-02-03');
    expectFailure(malformed, 400, 'VALIDATION_FAILED');
    expect(fieldsOf(malformed)).toEqual(['from']);
    expectFailure(await send('/usage?from=2026-02-03&to=2026-02-01'), 400, 'VALIDATION_FAILED');
    expect(fieldsOf(await send('/usage?unknown=1'))).toEqual(['unknown']);
    expect(await footprint()).toEqual(before);
  });

  it('subscribes, changes and cancels the plan; an unknown plan or a wrong type is refused by the DTO before Kill Bill', async () => {
    const before = await footprint();
    const unknown = await send('/subscription', { method: 'PUT', body: { plan: 'gold-unlimited' } });
    expectFailure(unknown, 400, 'VALIDATION_FAILED');
    expect(unknown.body.error?.details).toEqual([
      { field: 'plan', messages: [expect.stringContaining('sovren-premium-monthly')] },
    ]);
    expect(fieldsOf(await send('/subscription', { method: 'PUT', body: { plan: 42 } }))).toEqual(['plan']);
    expect(
      fieldsOf(await send('/subscription', { method: 'PUT', body: { plan: 'sovren-premium-monthly', extra: true } })),
    ).toEqual(['extra']);
    expectFailure(await send('/subscription', { method: 'PUT', body: {} }), 400, 'VALIDATION_FAILED');
    expect(await footprint()).toEqual(before);

    const changed = await send<{ subscriptionId: string; planName: string }>('/subscription', {
      method: 'PUT',
      body: { plan: 'sovren-premium-monthly' },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.data?.planName).toBe('sovren-premium-monthly');
    const subscriptionId = changed.body.data?.subscriptionId as string;
    expect(setup.environment.killbill.subscriptionOf(setup.userId)?.planName).toBe('sovren-premium-monthly');

    const cancelled = await send('/subscription', { method: 'DELETE' });
    expect(cancelled.status).toBe(204);
    expect(setup.environment.killbill.subscriptionOf(setup.userId)).toBeUndefined();

    // Subscribing again after the cancel starts a new subscription on the chosen plan.
    const subscribed = await send<{ subscriptionId: string; planName: string }>('/subscription', {
      method: 'PUT',
      body: { plan: 'sovren-authenticated-monthly' },
    });
    expect(subscribed.status).toBe(200);
    expect(subscribed.body.data?.planName).toBe('sovren-authenticated-monthly');
    expect(subscribed.body.data?.subscriptionId).not.toBe(subscriptionId);
    expect(setup.environment.killbill.subscriptionOf(setup.userId)?.subscriptionId).toBe(
      subscribed.body.data?.subscriptionId,
    );
  });

  it('adds payment methods and chooses the default; bad bodies get 400 with field details and reach no gateway', async () => {
    const before = await footprint();
    const badProvider = await send('/payment-methods', {
      method: 'POST',
      body: { provider: 'paypal', token: 'tok_abcdef' },
    });
    expectFailure(badProvider, 400, 'VALIDATION_FAILED');
    expect(fieldsOf(badProvider)).toEqual(['provider']);
    const wrongTypes = await send('/payment-methods', {
      method: 'POST',
      body: { provider: 'stripe', token: 4242424242424242, isDefault: 'yes' },
    });
    expect(fieldsOf(wrongTypes).sort()).toEqual(['isDefault', 'token']);
    // A card number with spaces is not a token: card data never reaches Kill Bill.
    expect(
      fieldsOf(
        await send('/payment-methods', { method: 'POST', body: { provider: 'stripe', token: '4242 4242 4242 4242' } }),
      ),
    ).toEqual(['token']);
    expectFailure(await send('/payment-methods/not-a-uuid/default', { method: 'PUT' }), 400, 'BAD_REQUEST');
    expect(await footprint()).toEqual(before);

    const stripe = await send<{ paymentMethodId: string; pluginName: string; isDefault: boolean }>('/payment-methods', {
      method: 'POST',
      body: { provider: 'stripe', token: 'cs_test_a1b2c3d4', isDefault: true },
    });
    expect(stripe.status).toBe(201);
    expect(stripe.body.data).toMatchObject({ pluginName: 'killbill-stripe', isDefault: true });
    const zoho = await send<{ paymentMethodId: string; isDefault: boolean }>('/payment-methods', {
      method: 'POST',
      body: { provider: 'zoho', token: 'zoho_tok_123456' },
    });
    expect(zoho.body.data?.isDefault).toBe(false);

    expect((await send(`/payment-methods/${zoho.body.data?.paymentMethodId}/default`, { method: 'PUT' })).status).toBe(
      204,
    );
    expect(setup.environment.killbill.accountByKey(setup.userId)?.paymentMethodId).toBe(
      zoho.body.data?.paymentMethodId,
    );
    expectFailure(await send(`/payment-methods/${UNKNOWN_UUID}/default`, { method: 'PUT' }), 404, 'NOT_FOUND');
    // Another owner cannot make this owner's method its default.
    expectFailure(
      await send(`/payment-methods/${stripe.body.data?.paymentMethodId}/default`, {
        method: 'PUT',
        headers: asUser(setup.otherApiKey),
      }),
      404,
      'NOT_FOUND',
    );
    expect(
      (await send(`/payment-methods/${stripe.body.data?.paymentMethodId}/default`, { method: 'PUT' })).status,
    ).toBe(204);
  });

  it('lists invoices and pays one; negative or wrong-typed amounts, foreign and unknown invoices are refused', async () => {
    const account = setup.environment.killbill.accountByKey(setup.userId);
    if (!account) throw new Error('the owner has no Kill Bill account');
    const invoice = setup.environment.killbill.createInvoice(account.accountId, 30);
    expect((await send('/account', { headers: asUser(setup.otherApiKey) })).status).toBe(200);

    const invoices = await send<Array<{ invoiceId: string; balance: number }>>('/invoices');
    expect(invoices.status).toBe(200);
    expect(invoices.body.data?.map((i) => i.invoiceId)).toContain(invoice.invoiceId);

    const before = await footprint();
    const negative = await send(`/invoices/${invoice.invoiceId}/payments`, { method: 'POST', body: { amount: -5 } });
    expectFailure(negative, 400, 'VALIDATION_FAILED');
    expect(fieldsOf(negative)).toEqual(['amount']);
    expect(
      fieldsOf(await send(`/invoices/${invoice.invoiceId}/payments`, { method: 'POST', body: { amount: '10' } })),
    ).toEqual(['amount']);
    expect(
      fieldsOf(await send(`/invoices/${invoice.invoiceId}/payments`, { method: 'POST', body: { amount: 1.234 } })),
    ).toEqual(['amount']);
    expectFailure(
      await send(`/invoices/${invoice.invoiceId}/payments`, { method: 'POST', body: { amount: 31 } }),
      400,
      'VALIDATION_FAILED',
    );
    expectFailure(await send(`/invoices/${UNKNOWN_UUID}/payments`, { method: 'POST', body: {} }), 404, 'NOT_FOUND');
    expectFailure(
      await send(`/invoices/${invoice.invoiceId}/payments`, {
        method: 'POST',
        body: {},
        headers: asUser(setup.otherApiKey),
      }),
      404,
      'NOT_FOUND',
    );
    expect(await footprint()).toEqual(before);
    expect(
      setup.environment.killbill.requests.filter((r) => r.path.startsWith(`/invoices/${invoice.invoiceId}/payments`)),
    ).toEqual([]);

    const partial = await send<{ paid: boolean; attempts: Array<{ pluginName: string; status: string }> }>(
      `/invoices/${invoice.invoiceId}/payments`,
      {
        method: 'POST',
        body: { amount: 10.5 },
      },
    );
    expect(partial.status).toBe(201);
    expect(partial.body.data).toMatchObject({
      paid: true,
      attempts: [{ pluginName: 'killbill-stripe', status: 'success' }],
    });
    const rest = await send<{ paid: boolean }>(`/invoices/${invoice.invoiceId}/payments`, { method: 'POST', body: {} });
    expect(rest.body.data?.paid).toBe(true);
    expectFailure(await send(`/invoices/${invoice.invoiceId}/payments`, { method: 'POST', body: {} }), 409, 'CONFLICT');

    const payments = await send<Array<{ purchasedAmount: number; targetInvoiceId: string }>>('/payments');
    expect(
      payments.body.data?.filter((p) => p.targetInvoiceId === invoice.invoiceId).map((p) => p.purchasedAmount),
    ).toEqual([10.5, 19.5]);
  });

  it('a key with only inference:generate cannot cancel a subscription nor pay an invoice (403 INSUFFICIENT_SCOPE)', async () => {
    const inferenceOnly = setup.auth.apiKey({ userId: setup.userId, scopes: ['inference:generate'] }).credential;
    const readOnly = setup.auth.apiKey({ userId: setup.userId, scopes: ['billing:read'] }).credential;
    const subscription = setup.environment.killbill.subscriptionOf(setup.userId);
    const before = await footprint();
    for (const key of [inferenceOnly, readOnly]) {
      const cancel = await send('/subscription', { method: 'DELETE', headers: asUser(key) });
      expectFailure(cancel, 403, 'INSUFFICIENT_SCOPE');
      expect(cancel.body.error?.details).toEqual({ missing_scopes: ['billing:write'] });
      // Refused before the invoice is even looked up (an unknown one would otherwise be 404).
      const pay = await send(`/invoices/${UNKNOWN_UUID}/payments`, {
        method: 'POST',
        body: {},
        headers: asUser(key),
      });
      expectFailure(pay, 403, 'INSUFFICIENT_SCOPE');
    }
    expectFailure(await send('/invoices', { headers: asUser(inferenceOnly) }), 403, 'INSUFFICIENT_SCOPE');
    expect((await send('/invoices', { headers: asUser(readOnly) })).status).toBe(200);
    expect(await footprint()).toEqual(before);
    expect(setup.environment.killbill.subscriptionOf(setup.userId)).toEqual(subscription);
  });

  it("gives admins every owner's views and the catalog upload; others get 403 and unknown owners 404", async () => {
    const before = await footprint();
    for (const path of [
      `/admin/owners/${setup.userId}/account`,
      `/admin/owners/${setup.userId}/usage`,
      `/admin/owners/${setup.userId}/invoices`,
    ]) {
      expectFailure(await send(path), 403, 'FORBIDDEN');
    }
    expectFailure(await send('/admin/catalog', { method: 'POST' }), 403, 'FORBIDDEN');
    expect(await footprint()).toEqual(before);

    const account = await send<{ ownerId: string; planName: string }>(`/admin/owners/${setup.userId}/account`, {
      headers: asAdmin(),
    });
    expect(account.status).toBe(200);
    expect(account.body.data).toMatchObject({
      ownerId: setup.userId,
      planName: 'sovren-authenticated-monthly',
      standing: 'good',
    });
    const usage = await send<{ usage: Array<{ unit: string; amount: number }> }>(
      `/admin/owners/${setup.userId}/usage?from=2026-02-01&to=2026-02-03`,
      {
        headers: asAdmin(),
      },
    );
    expect(usage.body.data?.usage).toHaveLength(3);
    const invoices = await send<unknown[]>(`/admin/owners/${setup.userId}/invoices`, { headers: asAdmin() });
    expect(invoices.body.data).toHaveLength(1);
    const payments = await send<unknown[]>(`/admin/owners/${setup.userId}/payments`, { headers: asAdmin() });
    expect(payments.body.data).toHaveLength(2);

    // An owner billing has never seen: 404, and no Kill Bill account is opened for a mistyped id.
    for (const view of ['account', 'invoices', 'payments']) {
      expectFailure(await send(`/admin/owners/no-such-owner/${view}`, { headers: asAdmin() }), 404, 'NOT_FOUND');
    }
    expect(setup.environment.killbill.accountByKey('no-such-owner')).toBeUndefined();
    expectFailure(
      await send(`/admin/owners/${'x'.repeat(129)}/account`, { headers: asAdmin() }),
      400,
      'VALIDATION_FAILED',
    );

    const uploads = () =>
      setup.environment.killbill.requests.filter((r) => r.path === '/catalog/xml' && r.status === 201).length;
    const uploadsBefore = uploads();
    const upload = await send<{ uploaded: string }>('/admin/catalog', { method: 'POST', headers: asAdmin() });
    expect(upload.status).toBe(200);
    expect(upload.body.data?.uploaded).toMatch(/catalog\.xml$/);
    expect(uploads()).toBe(uploadsBefore + 1);
  });

  it('answers unknown routes with a 404 envelope', async () => {
    expectFailure(await send('/nothing-here'), 404, 'NOT_FOUND');
  });
});
