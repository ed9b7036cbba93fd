// A Kill Bill push notification that billing confirmed against Kill Bill, published on `billing.notification`
// (BILLING_NOTIFICATION) once per distinct notification (duplicates from Kill Bill's retries are not re-published).

import { ContractFieldReader } from './contract-field.reader';

export interface BillingNotificationV1 {
  v: 1;
  /** Kill Bill's event type: INVOICE_CREATION, INVOICE_PAYMENT_SUCCESS, INVOICE_PAYMENT_FAILED, PAYMENT_SUCCESS… */
  eventType: string;
  /** The platform owner (user or organisation id), when the Kill Bill account is one of ours. */
  ownerId?: string;
  accountId: string;
  /** INVOICE, PAYMENT, SUBSCRIPTION, ACCOUNT… */
  objectType: string;
  objectId: string;
  /** ISO 8601 time billing received it. */
  receivedAt: string;
}

export function parseBillingNotificationV1(raw: unknown): BillingNotificationV1 {
  const r = new ContractFieldReader('BillingNotificationV1', raw);
  const notification: BillingNotificationV1 = {
    v: r.version(1),
    eventType: r.string('eventType', 64),
    accountId: r.string('accountId', 64),
    objectType: r.string('objectType', 64),
    objectId: r.string('objectId', 64),
    receivedAt: r.timestamp('receivedAt'),
  };
  const ownerId = r.optionalString('ownerId', 128);
  if (ownerId !== undefined) notification.ownerId = ownerId;
  return notification;
}
