// An owner's billing standing: repeated payment failure downgrades it, a successful payment restores it. Each
// change is stored (billing_accounts.standing) and announced once to JetStream stream BILLING_TIER
// (`billing.tier.changed`), which auth consumes durably; auth also reads every standing at start-up
// (billing-standings.responder.ts), which covers an announcement that could not be published.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { BILLING_TIER_CHANGED, BillingTierChangedV1, NatsClient } from '@sovren/messaging';
import { errorMessage, retry } from '@sovren/resilience';

import { BillingAccountsRepository } from '../accounts/billing-accounts.repository';
import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';

@Injectable()
export class BillingStandingService {
  private readonly logger = new Logger(BillingStandingService.name);

  constructor(
    private readonly accounts: BillingAccountsRepository,
    private readonly nats: NatsClient,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  async paymentFailed(ownerId: string, invoiceId: string, detail: string): Promise<void> {
    const failures = await this.accounts.countPaymentFailure(ownerId);
    if (failures < this.env.SOVREN_BILLING_DOWNGRADE_AFTER_FAILURES) return;
    if (await this.accounts.setStanding(ownerId, 'downgraded')) {
      await this.announce(
        ownerId,
        'downgraded',
        `${failures} consecutive failed payments (invoice ${invoiceId}: ${detail})`,
      );
    }
  }

  async paymentSucceeded(ownerId: string): Promise<void> {
    await this.accounts.resetPaymentFailures(ownerId);
    if (await this.accounts.setStanding(ownerId, 'good'))
      await this.announce(ownerId, 'restored', 'a payment succeeded');
  }

  private async announce(ownerId: string, standing: BillingTierChangedV1['standing'], reason: string): Promise<void> {
    const event: BillingTierChangedV1 = { v: 1, ownerId, standing, reason, changedAt: new Date().toISOString() };
    this.logger.warn({ msg: `owner ${standing}`, owner: ownerId, reason });
    try {
      // Acknowledged by the stream (kept until auth took it); the msgID makes a retried publish land once.
      await retry(
        () =>
          this.nats.publishToStream(BILLING_TIER_CHANGED, event, {
            msgID: `${ownerId}:${standing}:${event.changedAt}`,
          }),
        { maxAttempts: 5, initialMs: 200, maxMs: 2_000 },
      );
    } catch (error) {
      this.logger.error({
        msg: 'could not publish billing.tier.changed; auth picks the standing up when it next starts',
        owner: ownerId,
        standing,
        err: errorMessage(error),
      });
    }
  }
}
