// Kill Bill push notifications. They are unsigned, so: the callback URL carries a secret token (checked by the
// controller), and every notification is confirmed by re-fetching its object from Kill Bill before anything is
// done with it. Handling runs after the 2xx answer (Kill Bill retries non-2xx for a day); a notification seen
// before (same event type and object) is ignored. Confirmed ones are stored and published on `billing.notification`.
// INVOICE_PAYMENT_FAILED (Kill Bill's own payment retries included) counts toward the repeated-failure downgrade:
// the invoice's payments are re-fetched, and every failed one billing has not seen yet is recorded as a payment
// attempt (unique on its transactionExternalKey, so billing's own attempts and Kill Bill's repeats count once).
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { KillBillClient, KillBillError, KillBillNotification } from '@sovren/killbill';
import { BILLING_NOTIFICATION, BillingNotificationV1, NatsClient } from '@sovren/messaging';
import { errorMessage, retry } from '@sovren/resilience';

import { BillingAccountsRepository } from '../accounts/billing-accounts.repository';
import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { BillingPostgres } from '../billing-postgres';
import { BillingStandingService } from '../payments/billing-standing.service';
import { isOwnTransactionKey, PaymentAttemptsRepository } from '../payments/payment-attempts.repository';

export const NOTIFICATION_ROUTE = 'api/v1/billing/killbill/notifications';

@Injectable()
export class KillBillNotificationsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(KillBillNotificationsService.name);
  private readonly inFlight = new Set<Promise<void>>();
  /** Aborted at shutdown: the callback registration stops retrying. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly killbill: KillBillClient,
    private readonly accounts: BillingAccountsRepository,
    private readonly postgres: BillingPostgres,
    private readonly standing: BillingStandingService,
    private readonly attempts: PaymentAttemptsRepository,
    private readonly nats: NatsClient,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  /** Registers the callback with Kill Bill, retrying in the background until it is accepted. */
  onApplicationBootstrap(): void {
    const base = this.env.SOVREN_BILLING_PUBLIC_URL;
    const token = this.env.SOVREN_BILLING_NOTIFICATION_TOKEN;
    if (!base || !token) {
      this.logger.warn(
        'SOVREN_BILLING_PUBLIC_URL or SOVREN_BILLING_NOTIFICATION_TOKEN unset: Kill Bill push notifications are not registered',
      );
      return;
    }
    const callback = `${base.replace(/\/$/, '')}/${NOTIFICATION_ROUTE}/${token}`;
    retry(() => this.killbill.registerNotificationCallback(callback, { reason: 'billing start-up' }), {
      initialMs: 1_000,
      maxMs: 60_000,
      signal: this.stopping.signal,
      unref: true,
      onRetry: (error) =>
        this.logger.warn({
          msg: 'could not register the Kill Bill notification callback; retrying',
          err: errorMessage(error),
        }),
    }).then(
      () => this.logger.log('Kill Bill notification callback registered'),
      (error: unknown) => {
        if (!this.stopping.signal.aborted) {
          this.logger.error({ msg: 'Kill Bill notification callback not registered', err: errorMessage(error) });
        }
      },
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Takes the notification for handling after the answer; never throws. */
  accept(notification: KillBillNotification): void {
    const work = this.handle(notification).catch((error: unknown) => {
      this.logger.error({
        msg: 'Kill Bill notification handling failed',
        event: notification.eventType,
        object: notification.objectId,
        err: errorMessage(error),
      });
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** Resolves once every accepted notification has been handled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async handle(notification: KillBillNotification): Promise<void> {
    const { eventType, accountId, objectType, objectId } = notification;
    if (!accountId || !objectId) {
      this.logger.log({ msg: 'Kill Bill notification without account or object ignored', event: eventType });
      return;
    }
    if (!(await this.confirm(notification))) {
      this.logger.warn({
        msg: 'Kill Bill notification not confirmed by Kill Bill; ignored',
        event: eventType,
        object_type: objectType,
        object: objectId,
      });
      return;
    }
    const owner = await this.accounts.findByKillBillAccount(accountId);
    if (owner && eventType === 'INVOICE_PAYMENT_FAILED') await this.countFailedPayments(owner.ownerId, objectId);
    const inserted: unknown[] = await this.postgres.dataSource().query(
      `INSERT INTO billing_notifications (event_type, account_id, owner_id, object_type, object_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (event_type, object_type, object_id) DO NOTHING RETURNING id`,
      [eventType, accountId, owner?.ownerId ?? null, objectType, objectId],
    );
    if (inserted.length === 0) return; // a duplicate (Kill Bill's retry): already handled
    const event: BillingNotificationV1 = {
      v: 1,
      eventType,
      accountId,
      objectType,
      objectId,
      receivedAt: new Date().toISOString(),
    };
    if (owner) event.ownerId = owner.ownerId;
    this.nats.publish(BILLING_NOTIFICATION, event);
    if (owner && eventType === 'INVOICE_PAYMENT_SUCCESS') await this.standing.paymentSucceeded(owner.ownerId);
  }

  /** Records the invoice's failed payments not seen before and counts each toward the downgrade rule. */
  private async countFailedPayments(ownerId: string, invoiceId: string): Promise<void> {
    const invoice = await this.killbill.getInvoice(invoiceId);
    if (invoice.balance <= 0) return; // paid meanwhile: nothing is failing any more
    for (const payment of await this.killbill.getInvoicePayments(invoiceId)) {
      for (const transaction of payment.transactions) {
        const status = FAILED_TRANSACTION[transaction.status];
        // Billing's own attempts (keys from PaymentAttemptsRepository) are counted by PaymentsService, once per
        // request across both gateways; the notification of such an attempt may even arrive before its answer.
        if (!status || isOwnTransactionKey(transaction.transactionExternalKey, invoiceId)) continue;
        const method = await this.killbill.getPaymentMethod(payment.paymentMethodId);
        const reason = `Kill Bill payment failed (INVOICE_PAYMENT_FAILED): ${transaction.gatewayErrorMsg ?? transaction.status}`;
        const fresh = await this.attempts.record(
          ownerId,
          invoiceId,
          {
            pluginName: method.pluginName,
            paymentMethodId: payment.paymentMethodId,
            status,
            reason,
            paymentId: payment.paymentId,
          },
          transaction.transactionExternalKey,
          reason,
        );
        if (fresh)
          await this.standing.paymentFailed(ownerId, invoiceId, `${method.pluginName}: ${status} (Kill Bill retry)`);
      }
    }
  }

  /** Re-fetches the object from Kill Bill and checks it belongs to the account the notification names. */
  private async confirm(notification: KillBillNotification): Promise<boolean> {
    const { accountId, objectType, objectId } = notification;
    try {
      switch (objectType) {
        case 'INVOICE':
          return (await this.killbill.getInvoice(objectId as string)).accountId === accountId;
        case 'PAYMENT':
          return (await this.killbill.getPayment(objectId as string)).accountId === accountId;
        case 'SUBSCRIPTION':
          return (await this.killbill.getSubscription(objectId as string)).accountId === accountId;
        default:
          return (await this.killbill.getAccount(accountId as string)).accountId === accountId;
      }
    } catch (error) {
      if (error instanceof KillBillError && error.status === 404) return false;
      throw error;
    }
  }
}

const FAILED_TRANSACTION: Record<string, 'declined' | 'plugin_failure' | undefined> = {
  PAYMENT_FAILURE: 'declined',
  PLUGIN_FAILURE: 'plugin_failure',
};
