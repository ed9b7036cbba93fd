// Every platform owner (user or organisation id from auth) gets a Kill Bill account (externalKey = owner id) and a
// subscription to the default plan, created lazily and idempotently: Kill Bill's natural keys (account externalKey,
// bundle externalKey) make a repeat after a crash find what the first attempt created instead of duplicating it.
import { Inject, Injectable } from '@nestjs/common';
import { KillBillClient, KillBillError, KillBillSubscription } from '@sovren/killbill';

import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { BillingAccountRow, BillingAccountsRepository } from './billing-accounts.repository';

export interface ReadyAccount {
  ownerId: string;
  accountId: string;
  subscriptionId: string;
  planName: string;
}

@Injectable()
export class BillingAccountsService {
  /** One creation per owner at a time in this process (the usage consumer and the API may ask together). */
  private readonly inFlight = new Map<string, Promise<ReadyAccount>>();

  constructor(
    private readonly killbill: KillBillClient,
    private readonly accounts: BillingAccountsRepository,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  /** The owner's account and active subscription, creating what is missing. Throws KillBillError when Kill Bill fails. */
  async ensure(ownerId: string): Promise<ReadyAccount> {
    const known = await this.accounts.find(ownerId);
    if (known?.subscriptionId && known.planName) {
      return {
        ownerId,
        accountId: known.killbillAccountId,
        subscriptionId: known.subscriptionId,
        planName: known.planName,
      };
    }
    let pending = this.inFlight.get(ownerId);
    if (!pending) {
      pending = this.create(ownerId, known).finally(() => this.inFlight.delete(ownerId));
      this.inFlight.set(ownerId, pending);
    }
    return pending;
  }

  find(ownerId: string): Promise<BillingAccountRow | undefined> {
    return this.accounts.find(ownerId);
  }

  /** Moves the owner's subscription to `planName` (subscribing first when it has none). */
  async changePlan(ownerId: string, planName: string, requestId?: string): Promise<ReadyAccount> {
    const account = await this.ensure(ownerId);
    if (account.planName === planName) return account;
    const subscription = await this.killbill.changePlan(account.subscriptionId, planName, {
      reason: 'plan change requested by the owner',
      requestId,
    });
    await this.accounts.saveSubscription(ownerId, subscription.subscriptionId, subscription.planName);
    return { ...account, planName: subscription.planName };
  }

  /** Cancels the owner's subscription; the next usage or subscribe call starts a new one. */
  async cancel(ownerId: string, requestId?: string): Promise<void> {
    const known = await this.accounts.find(ownerId);
    if (!known?.subscriptionId) return;
    await this.killbill.cancelSubscription(known.subscriptionId, { reason: 'cancelled by the owner', requestId });
    await this.accounts.saveSubscription(ownerId, null, null);
  }

  private async create(ownerId: string, known: BillingAccountRow | undefined): Promise<ReadyAccount> {
    const write = { reason: 'platform owner first billed', comment: `owner ${ownerId}` };
    let accountId = known?.killbillAccountId;
    if (!accountId) {
      const account = await this.killbill.createAccount(
        { externalKey: ownerId, name: ownerId, currency: this.env.SOVREN_BILLING_CURRENCY },
        write,
      );
      accountId = account.accountId;
      await this.accounts.saveAccount(ownerId, accountId);
    }
    const subscription = await this.activeSubscription(accountId, ownerId, write);
    await this.accounts.saveSubscription(ownerId, subscription.subscriptionId, subscription.planName);
    return { ownerId, accountId, subscriptionId: subscription.subscriptionId, planName: subscription.planName };
  }

  private async activeSubscription(
    accountId: string,
    ownerId: string,
    write: { reason: string; comment: string },
  ): Promise<KillBillSubscription> {
    const bundleKey = `sovren-${ownerId}`;
    const existing = await this.findActive(accountId, bundleKey);
    if (existing) return existing;
    try {
      return await this.killbill.createSubscription(
        { accountId, planName: this.env.SOVREN_BILLING_DEFAULT_PLAN, externalKey: bundleKey },
        write,
      );
    } catch (error) {
      // Created by a concurrent or crashed earlier attempt between our lookup and this call.
      if (error instanceof KillBillError && error.kind === 'conflict') {
        const created = await this.findActive(accountId, bundleKey);
        if (created) return created;
      }
      throw error;
    }
  }

  private async findActive(accountId: string, bundleKey: string): Promise<KillBillSubscription | undefined> {
    const bundles = await this.killbill.getBundles(accountId, bundleKey);
    return bundles.flatMap((bundle) => bundle.subscriptions).find((subscription) => subscription.state === 'ACTIVE');
  }
}
