// What the billing API shows an owner: its account, ledger usage by unit and day, and its Kill Bill invoices and
// payments. Shared by the owner's own routes and the admin routes.
import { HttpStatus, Injectable } from '@nestjs/common';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { KillBillClient, KillBillInvoice, KillBillPayment } from '@sovren/killbill';

import type { BillingAccountRow } from '../accounts/billing-accounts.repository';
import { BillingAccountsService } from '../accounts/billing-accounts.service';
import { UsageByDay, UsageLedgerRepository } from '../usage/usage-ledger.repository';
import { UsageQuery } from './dtos/billing.dtos';

const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_RANGE_DAYS = 400;

@Injectable()
export class BillingApiService {
  constructor(
    private readonly accounts: BillingAccountsService,
    private readonly ledger: UsageLedgerRepository,
    private readonly killbill: KillBillClient,
  ) {}

  async account(ownerId: string) {
    const ready = await this.accounts.ensure(ownerId);
    const row = await this.accounts.find(ownerId);
    return { ...ready, standing: row?.standing ?? 'good' };
  }

  /** An admin's view of an owner's account: never creates one (a mistyped owner id must not open an account). */
  async existingAccount(ownerId: string) {
    const row = await this.requireKnown(ownerId);
    return {
      ownerId,
      accountId: row.killbillAccountId,
      subscriptionId: row.subscriptionId,
      planName: row.planName,
      standing: row.standing,
    };
  }

  /** The owner's billing account row, or 404 when billing has never seen the owner. */
  async requireKnown(ownerId: string): Promise<BillingAccountRow> {
    const row = await this.accounts.find(ownerId);
    if (!row)
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, `owner ${ownerId} has no billing account`);
    return row;
  }

  async usage(ownerId: string, query: UsageQuery): Promise<{ from: string; to: string; usage: UsageByDay[] }> {
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * DAY_MS);
    if (from.getTime() >= to.getTime() || to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        ApiErrorCode.VALIDATION_FAILED,
        `from must be before to, at most ${MAX_RANGE_DAYS} days apart`,
      );
    }
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      usage: await this.ledger.usageByDay(ownerId, from.toISOString(), to.toISOString()),
    };
  }

  async invoices(ownerId: string): Promise<KillBillInvoice[]> {
    const account = await this.known(ownerId);
    return account ? this.killbill.getInvoices(account) : [];
  }

  async payments(ownerId: string): Promise<KillBillPayment[]> {
    const account = await this.known(ownerId);
    return account ? this.killbill.getPayments(account) : [];
  }

  private async known(ownerId: string): Promise<string | undefined> {
    return (await this.accounts.find(ownerId))?.killbillAccountId;
  }
}
