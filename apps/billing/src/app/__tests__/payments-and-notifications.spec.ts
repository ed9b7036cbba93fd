// Specification of payments with the fallback gateway, the owner's downgrade, Kill Bill push notifications and
// refused input — the real billing app against the strict Kill Bill stand-in, real NATS and PostgreSQL.
import { KillBillError } from '@sovren/killbill';
import {
  BILLING_NOTIFICATION,
  BILLING_STANDINGS_QUERY,
  BILLING_TIER_CHANGED,
  NatsClient,
  parseBillingStandingsReplyV1,
  STREAM_BILLING_TIER,
} from '@sovren/messaging';
import { eventually } from '@sovren/testing';

import { BillingAccountsService } from '../accounts/billing-accounts.service';
import { toApiError } from '../killbill-error.mapper';
import { KillBillNotificationsService } from '../notifications/killbill-notifications.service';
import { PaymentsService } from '../payments/payments.service';
import { startBillingApp, type RunningBilling } from './support/billing-test-app';
import {
  createBillingTestEnvironment,
  NOTIFICATION_TOKEN,
  type BillingTestEnvironment,
} from './support/billing-test-environment';

jest.setTimeout(90_000);

describe('payments, notifications and refused input', () => {
  let environment: BillingTestEnvironment;
  let billing: RunningBilling;
  let payments: PaymentsService;
  let accounts: BillingAccountsService;
  let notifications: KillBillNotificationsService;
  const published: Array<{ subject: string; payload: Record<string, unknown> }> = [];

  beforeAll(async () => {
    environment = await createBillingTestEnvironment();
    environment.env['SOVREN_BILLING_PUBLIC_URL'] = `http://127.0.0.1:${environment.billingPort}`;
    billing = await startBillingApp(environment.env);
    payments = billing.app.get(PaymentsService);
    accounts = billing.app.get(BillingAccountsService);
    notifications = billing.app.get(KillBillNotificationsService);
    const nats = billing.app.get(NatsClient);
    for (const subject of [BILLING_NOTIFICATION, BILLING_TIER_CHANGED]) {
      nats.subscribe<Record<string, unknown>>(subject, (payload) => {
        published.push({ subject, payload });
      });
    }
    await nats.rawConnection()?.flush();
    await eventually('the notification callback to be registered', callbackRegistered);
  });

  afterAll(async () => {
    await billing?.close();
    await environment?.dispose();
  });

  function callbackRegistered(): boolean {
    return environment.killbill.requests.some(
      (r) => r.path === '/tenants/registerNotificationCallback' && r.status === 201,
    );
  }

  it('pays through Zoho when the Stripe payment fails, with the reason recorded, and never pays twice', async () => {
    const owner = 'owner-fallback';
    const account = await accounts.ensure(owner);
    await payments.addPaymentMethod(owner, 'stripe', 'cs_test_123456', true);
    await payments.addPaymentMethod(owner, 'zoho', 'zoho_tok_987654', false);
    const invoice = environment.killbill.createInvoice(account.accountId, 19.5);
    environment.killbill.failPaymentsFor('killbill-stripe', 402);

    const result = await payments.payInvoice(owner, invoice.invoiceId);
    expect(result.paid).toBe(true);
    expect(result.attempts.map((a) => [a.pluginName, a.status])).toEqual([
      ['killbill-stripe', 'declined'],
      ['killbill-zoho', 'success'],
    ]);
    const rows = await environment.query<{ plugin_name: string; outcome: string; reason: string }>(
      'SELECT plugin_name, outcome, reason FROM billing_payment_attempts WHERE invoice_id = $1 ORDER BY id',
      [invoice.invoiceId],
    );
    expect(rows[1].reason).toMatch(/^fallback after killbill-stripe declined/);
    const successes = await environment.query('SELECT 1 FROM billing_payment_attempts WHERE outcome = $1', ['success']);
    expect(successes).toHaveLength(1);
    await expect(payments.payInvoice(owner, invoice.invoiceId)).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('downgrades the owner when both gateways fail, keeps the change in stream BILLING_TIER and answers standings', async () => {
    const owner = 'owner-both-fail';
    const account = await accounts.ensure(owner);
    await payments.addPaymentMethod(owner, 'stripe', 'tok_visa_4242', true);
    await payments.addPaymentMethod(owner, 'zoho', 'zoho_tok_555555', false);
    environment.killbill.failPaymentsFor('killbill-stripe', 502);
    environment.killbill.failPaymentsFor('killbill-zoho', 402);
    const invoice = environment.killbill.createInvoice(account.accountId, 49);

    const result = await payments.payInvoice(owner, invoice.invoiceId);
    expect(result.paid).toBe(false);
    expect(result.attempts.map((a) => a.status)).toEqual(['plugin_failure', 'declined']);
    await eventually('the downgrade to be published', () =>
      published.some((p) => p.subject === BILLING_TIER_CHANGED && p.payload['ownerId'] === owner),
    );
    const event = published.find((p) => p.subject === BILLING_TIER_CHANGED && p.payload['ownerId'] === owner);
    expect(event?.payload).toMatchObject({ v: 1, standing: 'downgraded' });
    expect((await accounts.find(owner))?.standing).toBe('downgraded');

    // Durable: the stream holds it until auth's consumer takes it (no auth runs here).
    const nats = billing.app.get(NatsClient);
    const stored = await (
      await nats.jetstreamManager()
    ).streams.getMessage(STREAM_BILLING_TIER, {
      last_by_subj: BILLING_TIER_CHANGED,
    });
    expect(stored.json()).toMatchObject({ ownerId: owner, standing: 'downgraded' });
    // What auth reads at start-up to reconcile.
    const standings = await nats.request(BILLING_STANDINGS_QUERY, { v: 1 }, { parse: parseBillingStandingsReplyV1 });
    expect(standings.downgraded).toContain(owner);
  });

  it('records confirmed Kill Bill notifications once and publishes them on NATS', async () => {
    await eventually('the payment failure to be delivered', () =>
      environment.killbill.deliveries.some((d) => d.notification.eventType === 'INVOICE_PAYMENT_FAILED'),
    );
    await notifications.idle();
    const rows = await environment.query<{ event_type: string; owner_id: string }>(
      'SELECT event_type, owner_id FROM billing_notifications',
    );
    expect(rows.map((r) => r.event_type)).toEqual(
      expect.arrayContaining([
        'INVOICE_CREATION',
        'INVOICE_PAYMENT_SUCCESS',
        'PAYMENT_FAILED',
        'INVOICE_PAYMENT_FAILED',
      ]),
    );
    expect(environment.killbill.deliveries.every((d) => d.status === 200)).toBe(true);
    // Kill Bill retries: the same notification again changes nothing.
    const before = rows.length;
    const again = environment.killbill.deliveries[environment.killbill.deliveries.length - 1].notification;
    environment.killbill.notify(again);
    await eventually(
      'the repeated notification to be delivered',
      () => environment.killbill.deliveries.filter((d) => d.notification === again).length >= 1,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await notifications.idle();
    expect(await environment.query('SELECT 1 FROM billing_notifications')).toHaveLength(before);
    expect(
      published.some((p) => p.subject === BILLING_NOTIFICATION && p.payload['eventType'] === 'INVOICE_PAYMENT_FAILED'),
    ).toBe(true);
  });

  it("counts Kill Bill's own failed payment retries (INVOICE_PAYMENT_FAILED, re-fetched) toward the downgrade, each once", async () => {
    const failures = async (owner: string) =>
      Number(
        (
          await environment.query<{ n: number }>(
            'SELECT consecutive_payment_failures AS n FROM billing_accounts WHERE owner_id = $1',
            [owner],
          )
        )[0].n,
      );
    // Billing's own attempts are counted once per request, not again when their notifications arrive.
    await notifications.idle();
    expect(await failures('owner-both-fail')).toBe(1);

    const owner = 'owner-killbill-retries';
    const account = await accounts.ensure(owner);
    await payments.addPaymentMethod(owner, 'stripe', 'tok_retry_4000', true);
    environment.killbill.failPaymentsFor('killbill-stripe', 402);
    const invoice = environment.killbill.createInvoice(account.accountId, 12);
    const notifiedFailures = () =>
      environment.killbill.deliveries.filter(
        (d) => d.notification.eventType === 'INVOICE_PAYMENT_FAILED' && d.notification.objectId === invoice.invoiceId,
      ).length;

    environment.killbill.retryInvoicePayment(invoice.invoiceId); // Kill Bill's retry schedule, no call of ours
    await eventually('the first failure to be notified', () => notifiedFailures() === 1);
    await notifications.idle();
    await eventually('the downgrade to be published', () =>
      published.some(
        (p) =>
          p.subject === BILLING_TIER_CHANGED &&
          p.payload['ownerId'] === owner &&
          p.payload['standing'] === 'downgraded',
      ),
    );
    expect(await failures(owner)).toBe(1);
    const attempts = await environment.query<{ plugin_name: string; outcome: string; reason: string }>(
      'SELECT plugin_name, outcome, reason FROM billing_payment_attempts WHERE invoice_id = $1',
      [invoice.invoiceId],
    );
    expect(attempts).toEqual([
      { plugin_name: 'killbill-stripe', outcome: 'declined', reason: expect.stringMatching(/INVOICE_PAYMENT_FAILED/) },
    ]);

    // Kill Bill redelivers the same notification: nothing more is counted.
    const delivered = environment.killbill.deliveries.find(
      (d) => d.notification.eventType === 'INVOICE_PAYMENT_FAILED' && d.notification.objectId === invoice.invoiceId,
    );
    environment.killbill.notify(delivered?.notification as NonNullable<typeof delivered>['notification']);
    await eventually('the second failure to be notified', () => notifiedFailures() === 2);
    await notifications.idle();
    expect(await failures(owner)).toBe(1);

    // A second retry fails too (same invoice, new transaction): counted although the notification looks the same.
    environment.killbill.retryInvoicePayment(invoice.invoiceId);
    await eventually('the third failure to be notified', () => notifiedFailures() === 3);
    await notifications.idle();
    expect(await failures(owner)).toBe(2);

    // A forged failure for an invoice of another account is not confirmed and not counted.
    const foreign = environment.killbill.createInvoice((await accounts.ensure('owner-forged-target')).accountId, 5);
    const post = await fetch(`${billing.url}/api/v1/billing/killbill/notifications/${NOTIFICATION_TOKEN}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        eventType: 'INVOICE_PAYMENT_FAILED',
        accountId: account.accountId,
        objectType: 'INVOICE',
        objectId: foreign.invoiceId,
      }),
    });
    expect(post.status).toBe(200);
    await notifications.idle();
    expect(await failures(owner)).toBe(2);
    environment.killbill.failPaymentsFor('killbill-stripe', null);
  });

  it('refuses a foreign notification caller and ignores notifications Kill Bill cannot confirm', async () => {
    const body = {
      eventType: 'INVOICE_PAYMENT_SUCCESS',
      accountId: '11111111-1111-4111-8111-111111111111',
      objectType: 'INVOICE',
      objectId: '22222222-2222-4222-8222-222222222222',
    };
    const url = `${billing.url}/api/v1/billing/killbill/notifications`;
    const post = (token: string, payload: unknown) =>
      fetch(`${url}/${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
    const count = async () => (await environment.query('SELECT 1 FROM billing_notifications')).length;
    const before = await count();
    expect((await post('wrong-token', body)).status).toBe(404);
    expect((await post(NOTIFICATION_TOKEN, { ...body, accountId: 'not-a-uuid' })).status).toBe(400);
    expect((await post(NOTIFICATION_TOKEN, body)).status).toBe(200); // forged: the invoice does not exist in Kill Bill
    await notifications.idle();
    expect(await count()).toBe(before);
  });

  it("refuses an unknown plan with a 400 naming Kill Bill's reason, billing nothing", async () => {
    const owner = 'owner-plans';
    await accounts.ensure(owner);
    const failure = await accounts.changePlan(owner, 'gold-unlimited').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KillBillError);
    const api = toApiError(failure) as { getStatus(): number; message: string };
    expect(api.getStatus()).toBe(400);
    expect(api.message).toMatch(/gold-unlimited/);
    const changed = await accounts.changePlan(owner, 'sovren-premium-monthly');
    expect(changed.planName).toBe('sovren-premium-monthly');
  });
});
