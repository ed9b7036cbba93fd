// The Kill Bill REST client: one method per Kill Bill call billing makes, over KillBillTransport (headers, retries,
// circuit breaker, typed errors: killbill.transport.ts). Created resources come back as 201 + Location and no body:
// the client follows the Location with a GET.
//
// Kill Bill has no idempotency header, so safety comes from natural keys: account externalKey (409 on duplicate),
// usage trackingId (USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS) and payment transactionExternalKey (looked up after
// a 503/504 before any retry). Only requests that are safe to repeat are retried.
import { EgressClient } from '@sovren/egress';
import { MetricsService } from '@sovren/observability';
import { CircuitState, retry } from '@sovren/resilience';

import { KillBillError, KillBillErrorCodes } from './killbill.errors';
import {
  isKillBillUnavailable,
  KillBillTransport,
  KillBillTransportOptions,
  KillBillWriteContext,
} from './killbill.transport';
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

export type KillBillClientOptions = KillBillTransportOptions;

export type PaymentOutcomeStatus = 'success' | 'pending' | 'declined' | 'plugin_failure';

export interface PaymentOutcome {
  status: PaymentOutcomeStatus;
  payment?: KillBillPayment;
  /** Kill Bill's error message or the gateway's, when the payment did not succeed. */
  reason?: string;
}

export class KillBillClient {
  private readonly transport: KillBillTransport;

  constructor(egress: EgressClient, options: KillBillClientOptions, metrics?: MetricsService) {
    this.transport = new KillBillTransport(egress, options, metrics);
  }

  get circuitState(): CircuitState {
    return this.transport.circuitState;
  }

  // ---- accounts ----

  /** Creates the account for `externalKey`, or returns the existing one (409): safe to call any number of times. */
  async createAccount(
    account: { externalKey: string; name: string; currency: string; email?: string },
    write: KillBillWriteContext = {},
  ): Promise<KillBillAccount> {
    try {
      return await this.transport.createAndFetch<KillBillAccount>('/accounts', '/accounts', account, write);
    } catch (error) {
      if (error instanceof KillBillError && error.kind === 'conflict') {
        const existing = await this.getAccountByExternalKey(account.externalKey);
        if (existing) return existing;
      }
      throw error;
    }
  }

  async getAccountByExternalKey(externalKey: string): Promise<KillBillAccount | undefined> {
    return this.transport.getOptional<KillBillAccount>('/accounts', '/accounts', { externalKey });
  }

  async getAccount(accountId: string): Promise<KillBillAccount> {
    return this.transport.getJson<KillBillAccount>('/accounts/{accountId}', `/accounts/${seg(accountId)}`);
  }

  // ---- catalog and subscriptions ----

  async uploadCatalogXml(xml: string, write: KillBillWriteContext = {}): Promise<void> {
    await this.transport.send('POST', '/catalog/xml', '/catalog/xml', {
      body: xml,
      contentType: 'text/xml',
      write,
      retry: true,
    });
  }

  async createSubscription(
    subscription: { accountId: string; planName: string; externalKey?: string },
    write: KillBillWriteContext = {},
  ): Promise<KillBillSubscription> {
    return this.transport.createAndFetch<KillBillSubscription>('/subscriptions', '/subscriptions', subscription, write);
  }

  /** The account's bundles (with their subscriptions), optionally only the one with `externalKey`. */
  async getBundles(accountId: string, externalKey?: string): Promise<KillBillBundle[]> {
    return this.transport.getJson<KillBillBundle[]>(
      '/accounts/{accountId}/bundles',
      `/accounts/${seg(accountId)}/bundles`,
      {
        externalKey,
      },
    );
  }

  async getSubscription(subscriptionId: string): Promise<KillBillSubscription> {
    return this.transport.getJson<KillBillSubscription>(
      '/subscriptions/{subscriptionId}',
      `/subscriptions/${seg(subscriptionId)}`,
    );
  }

  async changePlan(
    subscriptionId: string,
    planName: string,
    write: KillBillWriteContext = {},
  ): Promise<KillBillSubscription> {
    await this.transport.send('PUT', '/subscriptions/{subscriptionId}', `/subscriptions/${seg(subscriptionId)}`, {
      body: { planName },
      write,
      retry: true,
    });
    return this.getSubscription(subscriptionId);
  }

  async cancelSubscription(subscriptionId: string, write: KillBillWriteContext = {}): Promise<void> {
    await this.transport.send('DELETE', '/subscriptions/{subscriptionId}', `/subscriptions/${seg(subscriptionId)}`, {
      write,
      retry: true,
    });
  }

  // ---- usage ----

  /**
   * Records usage. A trackingId Kill Bill already has means this exact record was accepted before (a retry or a
   * redelivery): answered `duplicate`, which the caller treats like `recorded`. Sent once, never repeated here: after
   * a timeout or a 5xx (kind `unavailable`) the record may be in Kill Bill or not, and Kill Bill's trackingId check
   * does not stop a repeat that arrives while the first request is still being written (the check and the insert
   * are separate statements, tracking_id is not unique), so the caller looks the outcome up before sending again.
   */
  async recordUsage(
    record: KillBillSubscriptionUsageRecord,
    write: KillBillWriteContext = {},
  ): Promise<'recorded' | 'duplicate'> {
    try {
      await this.transport.send('POST', '/usages', '/usages', { body: record, write, retry: false });
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
    return this.transport.getJson<KillBillRolledUpUsage>(
      '/usages/{subscriptionId}/{unitType}',
      `/usages/${seg(subscriptionId)}/${seg(unitType)}`,
      { startDate, endDate },
    );
  }

  /** Usage recorded for one subscription, every unit, in [startDate, endDate) (GET /usages/{subscriptionId}). */
  async getAllRolledUpUsage(
    subscriptionId: string,
    startDate: string,
    endDate: string,
  ): Promise<KillBillRolledUpUsage> {
    return this.transport.getJson<KillBillRolledUpUsage>('/usages/{subscriptionId}', `/usages/${seg(subscriptionId)}`, {
      startDate,
      endDate,
    });
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
    return this.transport.createAndFetch<KillBillPaymentMethod>(
      '/accounts/{accountId}/paymentMethods',
      `/accounts/${seg(accountId)}/paymentMethods`,
      body,
      write,
      { isDefault: method.isDefault },
    );
  }

  async getPaymentMethods(accountId: string): Promise<KillBillPaymentMethod[]> {
    return this.transport.getJson<KillBillPaymentMethod[]>(
      '/accounts/{accountId}/paymentMethods',
      `/accounts/${seg(accountId)}/paymentMethods`,
    );
  }

  async getPaymentMethod(paymentMethodId: string): Promise<KillBillPaymentMethod> {
    return this.transport.getJson<KillBillPaymentMethod>(
      '/paymentMethods/{paymentMethodId}',
      `/paymentMethods/${seg(paymentMethodId)}`,
    );
  }

  async setDefaultPaymentMethod(
    accountId: string,
    paymentMethodId: string,
    write: KillBillWriteContext = {},
  ): Promise<void> {
    await this.transport.send(
      'PUT',
      '/accounts/{accountId}/paymentMethods/{paymentMethodId}/setDefault',
      `/accounts/${seg(accountId)}/paymentMethods/${seg(paymentMethodId)}/setDefault`,
      { write, retry: true },
    );
  }

  // ---- invoices and payments ----

  async getInvoices(accountId: string): Promise<KillBillInvoice[]> {
    return this.transport.getJson<KillBillInvoice[]>(
      '/accounts/{accountId}/invoices',
      `/accounts/${seg(accountId)}/invoices`,
    );
  }

  async getInvoice(invoiceId: string): Promise<KillBillInvoice> {
    return this.transport.getJson<KillBillInvoice>('/invoices/{invoiceId}', `/invoices/${seg(invoiceId)}`);
  }

  /** Every payment made against the invoice, including Kill Bill's own retries. */
  async getInvoicePayments(invoiceId: string): Promise<KillBillPayment[]> {
    return this.transport.getJson<KillBillPayment[]>(
      '/invoices/{invoiceId}/payments',
      `/invoices/${seg(invoiceId)}/payments`,
    );
  }

  async getPayments(accountId: string): Promise<KillBillPayment[]> {
    return this.transport.getJson<KillBillPayment[]>(
      '/accounts/{accountId}/payments',
      `/accounts/${seg(accountId)}/payments`,
    );
  }

  async getPayment(paymentId: string): Promise<KillBillPayment> {
    return this.transport.getJson<KillBillPayment>('/payments/{paymentId}', `/payments/${seg(paymentId)}`);
  }

  async getPaymentByTransactionExternalKey(transactionExternalKey: string): Promise<KillBillPayment | undefined> {
    return this.transport.getOptional<KillBillPayment>('/paymentTransactions', '/paymentTransactions', {
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
    const key = payment.transactionExternalKey;
    try {
      return await retry(async (attempt) => {
        if (attempt > 1) {
          // The last attempt ended in a 503/504/timeout: the payment may exist, and must then not be made again.
          const existing = await this.getPaymentByTransactionExternalKey(key);
          if (existing) return outcomeOf(existing, key);
        }
        try {
          const created = await this.transport.createAndFetch<KillBillPayment>(
            '/invoices/{invoiceId}/payments',
            `/invoices/${seg(payment.invoiceId)}/payments`,
            body,
            write,
            { externalPayment: false },
            false,
          );
          return outcomeOf(created, key);
        } catch (error) {
          if (
            error instanceof KillBillError &&
            (error.kind === 'payment_declined' || error.kind === 'plugin_failure')
          ) {
            return {
              status: error.kind === 'payment_declined' ? 'declined' : 'plugin_failure',
              reason: error.body?.message ?? error.message,
            };
          }
          throw error;
        }
      }, this.transport.retryOptions());
    } catch (error) {
      if (!isKillBillUnavailable(error)) throw error;
      const existing = await this.getPaymentByTransactionExternalKey(key);
      if (existing) return outcomeOf(existing, key);
      throw error;
    }
  }

  // ---- notifications ----

  async registerNotificationCallback(callbackUrl: string, write: KillBillWriteContext = {}): Promise<void> {
    await this.transport.send(
      'POST',
      '/tenants/registerNotificationCallback',
      '/tenants/registerNotificationCallback',
      {
        query: { cb: callbackUrl },
        write,
        retry: true,
      },
    );
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
