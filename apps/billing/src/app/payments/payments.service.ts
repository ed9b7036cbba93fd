// Payment methods and invoice payments, always through Kill Bill's payment plugins (never a gateway directly).
// Fallback: when paying through the primary plugin (killbill-stripe) ends in 402/502, a NEW invoice payment is
// made through the fallback plugin's method (Kill Bill refuses to pay an invoice whose balance is already 0, so
// the invoice cannot be paid twice), with the reason recorded. When every method fails the owner's consecutive
// failure count grows; reaching SOVREN_BILLING_DOWNGRADE_AFTER_FAILURES downgrades it (auth is told over NATS).
import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { KillBillClient, KillBillPaymentMethod, PaymentOutcome } from '@sovren/killbill';

import { BillingAccountsService } from '../accounts/billing-accounts.service';
import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { BillingStandingService } from './billing-standing.service';
import { PaymentAttemptsRepository } from './payment-attempts.repository';

export type PaymentProvider = 'stripe' | 'zoho';

export interface PaymentAttemptResult {
  pluginName: string;
  paymentMethodId: string;
  status: PaymentOutcome['status'];
  reason?: string;
  paymentId?: string;
}

export interface InvoicePaymentResult {
  invoiceId: string;
  paid: boolean;
  attempts: PaymentAttemptResult[];
}

@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    private readonly killbill: KillBillClient,
    private readonly accounts: BillingAccountsService,
    private readonly attempts: PaymentAttemptsRepository,
    private readonly standing: BillingStandingService,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  pluginFor(provider: PaymentProvider): string {
    return provider === 'stripe' ? this.env.SOVREN_BILLING_PRIMARY_PLUGIN : this.env.SOVREN_BILLING_FALLBACK_PLUGIN;
  }

  /** `token`: a Stripe checkout session id / token or the Zoho plugin's token; card data never reaches us. */
  async addPaymentMethod(
    ownerId: string,
    provider: PaymentProvider,
    token: string,
    isDefault: boolean,
    requestId?: string,
  ): Promise<KillBillPaymentMethod> {
    const account = await this.accounts.ensure(ownerId);
    const properties =
      provider === 'stripe' && token.startsWith('cs_')
        ? [{ key: 'sessionId', value: token, isUpdatable: false }]
        : [{ key: 'token', value: token, isUpdatable: false }];
    return this.killbill.addPaymentMethod(
      account.accountId,
      { pluginName: this.pluginFor(provider), properties, isDefault },
      { reason: `${provider} payment method added by the owner`, requestId },
    );
  }

  async setDefault(ownerId: string, paymentMethodId: string, requestId?: string): Promise<void> {
    const account = await this.accounts.ensure(ownerId);
    await this.killbill.setDefaultPaymentMethod(account.accountId, paymentMethodId, {
      reason: 'default payment method chosen',
      requestId,
    });
  }

  async payInvoice(
    ownerId: string,
    invoiceId: string,
    options: { amount?: number; requestId?: string } = {},
  ): Promise<InvoicePaymentResult> {
    const { requestId } = options;
    const account = await this.accounts.ensure(ownerId);
    const invoice = await this.killbill.getInvoice(invoiceId);
    if (invoice.accountId !== account.accountId) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `invoice ${invoiceId} does not exist`);
    }
    if (invoice.balance <= 0)
      throw new ApiError(HttpStatus.CONFLICT, ApiErrorCode.CONFLICT, `invoice ${invoiceId} is already paid`);
    if (options.amount !== undefined && options.amount > invoice.balance) {
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        ApiErrorCode.VALIDATION_FAILED,
        `amount ${options.amount} exceeds the invoice balance ${invoice.balance}`,
        [{ field: 'amount', messages: [`amount must not exceed the invoice balance ${invoice.balance}`] }],
      );
    }
    const amount = options.amount ?? invoice.balance;
    const methods = await this.killbill.getPaymentMethods(account.accountId);
    const ordered = this.methodOrder(methods);
    if (ordered.length === 0) {
      throw new ApiError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        ApiErrorCode.UNPROCESSABLE,
        'add a Stripe or Zoho payment method first',
      );
    }
    const results: PaymentAttemptResult[] = [];
    let previous: PaymentAttemptResult | undefined;
    for (const method of ordered) {
      const reason = previous
        ? `fallback after ${previous.pluginName} ${previous.status}: ${previous.reason ?? ''}`.trim()
        : 'invoice payment';
      const key = await this.attempts.nextTransactionKey(invoiceId, method.pluginName);
      const outcome = await this.killbill.payInvoice(
        {
          invoiceId,
          accountId: account.accountId,
          paymentMethodId: method.paymentMethodId,
          amount,
          transactionExternalKey: key,
        },
        { reason, requestId },
      );
      const result: PaymentAttemptResult = {
        pluginName: method.pluginName,
        paymentMethodId: method.paymentMethodId,
        status: outcome.status,
        reason: outcome.reason,
        paymentId: outcome.payment?.paymentId,
      };
      await this.attempts.record(ownerId, invoiceId, result, key, previous ? reason : outcome.reason);
      results.push(result);
      this.logger.log({
        msg: 'invoice payment attempt',
        owner: ownerId,
        invoice: invoiceId,
        plugin: method.pluginName,
        status: outcome.status,
        fallback: previous !== undefined,
      });
      if (outcome.status === 'success' || outcome.status === 'pending') {
        await this.standing.paymentSucceeded(ownerId);
        return { invoiceId, paid: true, attempts: results };
      }
      previous = result;
    }
    await this.standing.paymentFailed(
      ownerId,
      invoiceId,
      results.map((r) => `${r.pluginName}: ${r.status}`).join(', '),
    );
    return { invoiceId, paid: false, attempts: results };
  }

  /** The primary plugin's method first (the default one if it is), then the fallback plugin's. */
  private methodOrder(methods: KillBillPaymentMethod[]): KillBillPaymentMethod[] {
    const pick = (plugin: string) =>
      methods.filter((m) => m.pluginName === plugin).sort((a, b) => Number(b.isDefault) - Number(a.isDefault))[0];
    return [pick(this.env.SOVREN_BILLING_PRIMARY_PLUGIN), pick(this.env.SOVREN_BILLING_FALLBACK_PLUGIN)].filter(
      (m): m is KillBillPaymentMethod => m !== undefined,
    );
  }
}
