// Applies billing's tier changes: read from JetStream stream BILLING_TIER through the durable consumer
// `auth-billing-tier` (a change made while auth is down is applied when it is back; a message is acknowledged only
// once applied), and reconciled at start-up with every owner's current standing asked from billing
// (`billing.standings`), which covers a change billing could not publish.
// Rule: while an owner is downgraded (repeated payment failure), its premium API keys count as `authenticated` —
// they keep working at the authenticated rate limit — and the keys changed are remembered in api_auth.db
// (billing_downgraded_api_keys) so that `restored` gives back premium to exactly those keys (not to keys revoked
// meanwhile). Remembering and changing a key are one SQLite transaction, so a crash cannot leave a key lowered but
// forgotten. Every changed key is announced like a revocation so that auth.validate's and every guard's cache
// forget the old tier at once. The owner itself is remembered too (billing_downgraded_owners): a premium key created
// while it is downgraded is created as `authenticated` and restored with the others (ApiKeyService.create), so a new
// key cannot buy premium back.
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import {
  BILLING_STANDINGS_QUERY,
  BILLING_TIER_CHANGED,
  BillingStandingsReplyV1,
  BillingTierChangedV1,
  ContractError,
  ensureConsumer,
  NatsClient,
  parseBillingStandingsReplyV1,
  parseBillingTierChangedV1,
  STREAM_BILLING_TIER,
} from '@sovren/messaging';
import { Backoff, errorMessage, retry, WakeableSleep } from '@sovren/resilience';
import { AckPolicy, nanos, type JsMsg } from 'nats';

import { RevocationPublisher } from '../revocation/revocation.publisher';
import { AuthDatabases } from '../storage/auth-databases';
import { forgetDowngradedOwner, rememberDowngradedOwner, rememberLoweredKey } from './billing-downgrades';

export const BILLING_TIER_DURABLE = 'auth-billing-tier';
/** Attempts to read billing's standings at start-up (billing may be starting too); then the stream alone. */
const RECONCILE_ATTEMPTS = 4;

@Injectable()
export class BillingTierSubscriber implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(BillingTierSubscriber.name);
  private stopping = false;
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly sleeper = new WakeableSleep();

  constructor(
    private readonly nats: NatsClient,
    private readonly databases: AuthDatabases,
    private readonly revocations: RevocationPublisher,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.stopped.abort(new Error('auth is stopping'));
    this.sleeper.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    await this.reconcileAtStart();
    const failures = new Backoff({ initialMs: 250, maxMs: 5_000 });
    while (!this.stopping) {
      try {
        await this.nats.whenConnected();
        await ensureConsumer(await this.nats.jetstreamManager(), STREAM_BILLING_TIER, {
          durable_name: BILLING_TIER_DURABLE,
          ack_policy: AckPolicy.Explicit,
          filter_subject: BILLING_TIER_CHANGED,
          ack_wait: nanos(30_000),
        });
        const consumer = await this.nats.jetstream().consumers.get(STREAM_BILLING_TIER, BILLING_TIER_DURABLE);
        while (!this.stopping) {
          const batch = await consumer.fetch({ max_messages: 100, expires: 1_000 });
          for await (const message of batch) await this.take(message);
          failures.reset();
        }
      } catch (error) {
        if (this.stopping) break;
        const waitMs = Math.max(50, failures.next());
        this.logger.warn({
          msg: 'billing tier consumer failed; retrying',
          err: errorMessage(error),
          attempt: failures.retries,
          retry_in_ms: waitMs,
        });
        await this.sleeper.sleep(waitMs);
      }
    }
  }

  /** Applies one tier change, then acknowledges it; one that cannot be applied now comes back later. */
  private async take(message: JsMsg): Promise<void> {
    let event: BillingTierChangedV1;
    try {
      event = parseBillingTierChangedV1(JSON.parse(Buffer.from(message.data).toString('utf8')));
    } catch (error) {
      if (!(error instanceof ContractError) && !(error instanceof SyntaxError)) throw error;
      this.logger.error({
        msg: 'malformed billing tier change dropped',
        stream_sequence: message.seq,
        err: error.message,
      });
      message.term();
      return;
    }
    try {
      await this.apply(event);
      message.ack();
    } catch (error) {
      message.nak(1_000);
      throw error;
    }
  }

  /** Makes auth's copy of who is downgraded equal to billing's (applying only the differences). */
  private async reconcileAtStart(): Promise<void> {
    let reply: BillingStandingsReplyV1;
    try {
      reply = await retry(
        async () => {
          await this.nats.whenConnected();
          return this.nats.request(BILLING_STANDINGS_QUERY, { v: 1 }, { parse: parseBillingStandingsReplyV1 });
        },
        { maxAttempts: RECONCILE_ATTEMPTS, initialMs: 250, maxMs: 2_000, signal: this.stopped.signal },
      );
    } catch (error) {
      if (!this.stopping)
        this.logger.warn({
          msg: "billing's standings not read at start-up; relying on the tier change stream",
          err: errorMessage(error),
        });
      return;
    }
    await this.databases.whenReady();
    const db = this.databases.handle('api_auth');
    const known = new Set(
      (
        this.databases.statement(db, 'SELECT owner_id FROM billing_downgraded_owners').all() as Array<{
          owner_id: string;
        }>
      ).map((row) => row.owner_id),
    );
    const downgraded = new Set(reply.downgraded);
    const changes: BillingTierChangedV1[] = [
      ...[...downgraded]
        .filter((owner) => !known.has(owner))
        .map((ownerId) => ({ ownerId, standing: 'downgraded' as const })),
      ...[...known]
        .filter((owner) => !downgraded.has(owner))
        .map((ownerId) => ({ ownerId, standing: 'restored' as const })),
    ].map((change) => ({
      v: 1,
      ...change,
      reason: "reconciled with billing's standings at start-up",
      changedAt: reply.asOf,
    }));
    for (const change of changes) await this.apply(change);
    this.logger.log({
      msg: "reconciled owners' billing standing with billing",
      downgraded: downgraded.size,
      changed: changes.length,
    });
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
