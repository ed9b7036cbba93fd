// Applies `billing.tier.changed` from billing. Rule: while an owner is downgraded (repeated payment failure), its
// premium API keys count as `authenticated` — they keep working at the authenticated rate limit — and the keys
// changed are remembered in api_auth.db (billing_downgraded_api_keys) so that `restored` gives back premium to
// exactly those keys (not to keys revoked meanwhile). Remembering and changing a key are one SQLite transaction, so
// a crash cannot leave a key lowered but forgotten. Every changed key is announced like a revocation so that
// auth.validate's and every guard's cache forget the old tier at once. The owner itself is remembered too
// (billing_downgraded_owners): a premium key created while it is downgraded is created as `authenticated` and
// restored with the others (ApiKeyService.create), so a new key cannot buy premium back.
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import {
  BILLING_TIER_CHANGED,
  BillingTierChangedV1,
  MessagingSubscription,
  NatsClient,
  parseBillingTierChangedV1,
} from '@sovren/messaging';

import { RevocationPublisher } from '../revocation/revocation.publisher';
import { AuthDatabases } from '../storage/auth-databases';
import { forgetDowngradedOwner, rememberDowngradedOwner, rememberLoweredKey } from './billing-downgrades';

@Injectable()
export class BillingTierSubscriber implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BillingTierSubscriber.name);
  private subscription: MessagingSubscription | undefined;

  constructor(
    private readonly nats: NatsClient,
    private readonly databases: AuthDatabases,
    private readonly revocations: RevocationPublisher,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription = this.nats.subscribe<BillingTierChangedV1>(BILLING_TIER_CHANGED, (event) => this.apply(event), {
      parse: parseBillingTierChangedV1,
      queue: 'auth',
    });
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  async apply(event: BillingTierChangedV1): Promise<void> {
    await this.databases.whenReady();
    const changed = event.standing === 'downgraded' ? this.downgrade(event.ownerId) : this.restore(event.ownerId);
    for (const keyId of changed) this.revocations.announce('api_key', keyId, event.ownerId);
    this.logger.log({
      msg: `billing ${event.standing} an owner`,
      owner: event.ownerId,
      keys: changed.length,
      reason: event.reason,
    });
  }

  private downgrade(ownerId: string): string[] {
    const db = this.databases.handle('api_auth');
    const premium = this.databases.statement(
      db,
      "SELECT id FROM api_keys WHERE user_id = ? AND tier = 'premium' AND revoked_at IS NULL",
    );
    const lower = this.databases.statement(
      db,
      "UPDATE api_keys SET tier = 'authenticated' WHERE id = ? AND tier = 'premium'",
    );
    return db.transaction(() => {
      const keys = premium.all(ownerId) as Array<{ id: string }>;
      const now = Date.now();
      rememberDowngradedOwner(this.databases, db, ownerId, now);
      for (const { id } of keys) {
        rememberLoweredKey(this.databases, db, id, ownerId, now);
        lower.run(id);
      }
      return keys.map(({ id }) => id);
    })();
  }

  private restore(ownerId: string): string[] {
    const db = this.databases.handle('api_auth');
    const remembered = this.databases.statement(
      db,
      'SELECT key_id FROM billing_downgraded_api_keys WHERE owner_id = ?',
    );
    const raise = this.databases.statement(
      db,
      "UPDATE api_keys SET tier = 'premium' WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
    );
    const forget = this.databases.statement(db, 'DELETE FROM billing_downgraded_api_keys WHERE owner_id = ?');
    return db.transaction(() => {
      const restored: string[] = [];
      for (const { key_id } of remembered.all(ownerId) as Array<{ key_id: string }>) {
        if (raise.run(key_id, ownerId).changes > 0) restored.push(key_id);
      }
      forget.run(ownerId);
      forgetDowngradedOwner(this.databases, db, ownerId);
      return restored;
    })();
  }
}
