// billing_payment_attempts: every invoice payment billing asked Kill Bill for, with its outcome and the reason
// (a fallback names the primary failure). The transactionExternalKey is derived from the invoice, the plugin and
// the attempt number, so a repeated request after a timeout reuses it and Kill Bill finds the earlier payment.
import { Injectable } from '@nestjs/common';

import { BillingPostgres } from '../billing-postgres';
import type { PaymentAttemptResult } from './payments.service';

/** Whether a transactionExternalKey is one billing made for this invoice (nextTransactionKey's format). */
export function isOwnTransactionKey(key: string, invoiceId: string): boolean {
  return key.startsWith(`${invoiceId}:`);
}

@Injectable()
export class PaymentAttemptsRepository {
  constructor(private readonly postgres: BillingPostgres) {}

  async nextTransactionKey(invoiceId: string, pluginName: string): Promise<string> {
    const [row]: Array<{ count: string }> = await this.postgres
      .dataSource()
      .query('SELECT count(*) FROM billing_payment_attempts WHERE invoice_id = $1 AND plugin_name = $2', [
        invoiceId,
        pluginName,
      ]);
    return `${invoiceId}:${pluginName}:${Number(row.count) + 1}`;
  }

  /** Stores the attempt once per transactionExternalKey; true when it was new. */
  async record(
    ownerId: string,
    invoiceId: string,
    result: PaymentAttemptResult,
    key: string,
    reason: string | undefined,
  ): Promise<boolean> {
    const inserted: unknown[] = await this.postgres.dataSource().query(
      `INSERT INTO billing_payment_attempts (owner_id, invoice_id, payment_method_id, plugin_name, transaction_external_key, outcome, reason, payment_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (transaction_external_key) DO NOTHING RETURNING id`,
      [
        ownerId,
        invoiceId,
        result.paymentMethodId,
        result.pluginName,
        key,
        result.status,
        reason ?? null,
        result.paymentId ?? null,
      ],
    );
    return inserted.length > 0;
  }

  async forInvoice(invoiceId: string): Promise<Array<{ plugin_name: string; outcome: string; reason: string | null }>> {
    return this.postgres
      .dataSource()
      .query('SELECT plugin_name, outcome, reason FROM billing_payment_attempts WHERE invoice_id = $1 ORDER BY id', [
        invoiceId,
      ]);
  }
}
