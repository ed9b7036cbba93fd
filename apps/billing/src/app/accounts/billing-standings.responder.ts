// Answers `billing.standings`: every owner billing has downgraded now. Auth asks at start-up to reconcile its copy
// with billing's (a tier change it missed, e.g. one that could not be published, is applied then).
import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import {
  BILLING_STANDINGS_QUERY,
  BillingStandingsReplyV1,
  BillingStandingsRequestV1,
  MessagingSubscription,
  NatsClient,
  parseBillingStandingsRequestV1,
} from '@sovren/messaging';

import { BillingAccountsRepository } from './billing-accounts.repository';

@Injectable()
export class BillingStandingsResponder implements OnApplicationBootstrap, OnModuleDestroy {
  private subscription: MessagingSubscription | undefined;

  constructor(
    private readonly nats: NatsClient,
    private readonly accounts: BillingAccountsRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.nats.respond<BillingStandingsRequestV1, BillingStandingsReplyV1>(
      BILLING_STANDINGS_QUERY,
      async () => {
        const asOf = new Date().toISOString();
        return { v: 1, downgraded: await this.accounts.downgradedOwners(), asOf };
      },
      { parse: parseBillingStandingsRequestV1, queue: 'billing' },
    );
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }
}
