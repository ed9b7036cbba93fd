// The Kill Bill REST resources (JSON field names as Kill Bill's API uses them) that this platform reads and writes.

export interface KillBillAccount {
  accountId: string;
  externalKey: string;
  name: string;
  currency: string;
  email?: string;
  paymentMethodId?: string | null;
}

export interface KillBillSubscription {
  subscriptionId: string;
  accountId: string;
  bundleId?: string;
  externalKey?: string;
  planName: string;
  productCategory?: string;
  /** ACTIVE, CANCELLED… */
  state: string;
  billingStartDate?: string;
  cancelledDate?: string | null;
}

export interface KillBillBundle {
  bundleId: string;
  accountId: string;
  externalKey?: string;
  subscriptions: KillBillSubscription[];
}

export interface KillBillPluginProperty {
  key: string;
  value: string;
  isUpdatable?: boolean;
}

export interface KillBillPaymentMethod {
  paymentMethodId: string;
  accountId: string;
  externalKey?: string;
  isDefault: boolean;
  pluginName: string;
  pluginInfo?: { properties?: KillBillPluginProperty[] };
}

export interface KillBillInvoice {
  invoiceId: string;
  accountId: string;
  invoiceNumber?: string;
  invoiceDate?: string;
  targetDate?: string;
  currency: string;
  amount: number;
  balance: number;
  status?: string;
}

export interface KillBillPaymentTransaction {
  transactionId: string;
  transactionExternalKey: string;
  paymentId: string;
  transactionType: string;
  amount: number;
  currency: string;
  /** SUCCESS, PENDING, PAYMENT_FAILURE, PLUGIN_FAILURE, UNKNOWN. */
  status: string;
  gatewayErrorCode?: string | null;
  gatewayErrorMsg?: string | null;
}

export interface KillBillPayment {
  paymentId: string;
  accountId: string;
  paymentNumber?: string;
  paymentExternalKey?: string;
  paymentMethodId: string;
  targetInvoiceId?: string;
  authAmount?: number;
  capturedAmount?: number;
  purchasedAmount: number;
  currency: string;
  transactions: KillBillPaymentTransaction[];
}

export interface KillBillUnitUsageRecord {
  unitType: string;
  usageRecords: Array<{ recordDate: string; amount: number }>;
}

export interface KillBillSubscriptionUsageRecord {
  subscriptionId: string;
  trackingId: string;
  unitUsageRecords: KillBillUnitUsageRecord[];
}

export interface KillBillRolledUpUsage {
  subscriptionId: string;
  startDate: string;
  endDate: string;
  rolledUpUnits: Array<{ unitType: string; amount: number }>;
}

/** A push notification body (Kill Bill's ExtBusEvent JSON). */
export interface KillBillNotification {
  eventType: string;
  accountId: string | null;
  objectType: string;
  objectId: string | null;
  metaData?: string | null;
}
