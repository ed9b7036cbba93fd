// Records the usage in the ledger to Kill Bill, owner by owner. One cycle: group the unbatched ledger events per
// owner, make each owner's account ready and persist one usage record per owner (deterministic trackingId) → send
// each owner's pending records in order, one at a time per owner, SOVREN_BILLING_USAGE_CONCURRENCY owners at once.
// An owner whose calls fail waits on its own backoff (owner-backoff.ts) and the others go on. Kill Bill refusing
// billing's credentials (401/403) or the egress allowlist refusing Kill Bill's host is a configuration fault, not a
// fault of the usage: every owner waits (backoff, an error log line, a metric) and nothing is marked rejected.
// A record sent without learning the outcome (timeout, 5xx, crash) keeps `sent_at`: it is not sent again before
// SOVREN_BILLING_USAGE_LOOKUP_AFTER_MS has passed and Kill Bill's totals for its subscription and days show it is
// not there (lookUp below): Kill Bill's own trackingId check does not stop a repeat racing the first request.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { KillBillClient, KillBillError } from '@sovren/killbill';
import { runWithRequestId } from '@sovren/observability';
import { Backoff, errorMessage, WakeableSleep } from '@sovren/resilience';
import { ReadinessService } from '@sovren/service';
import type { Counter, Gauge } from 'prom-client';

import { BillingAccountsService, ReadyAccount } from '../accounts/billing-accounts.service';
import { BILLING_ENV, BillingEnv } from '../billing-config/billing.env';
import { BillingMetrics } from '../billing.metrics';
import { forEachBounded } from './bounded-concurrency';
import { OwnerBackoff } from './owner-backoff';
import {
  accountRequestId,
  batchRequestId,
  buildUsageBatch,
  decimalToMicro,
  LedgerEventForBatch,
  toMicro,
  UsageBatch,
} from './usage-batch.builder';
import { PendingBatch, UsageLedgerRepository } from './usage-ledger.repository';

const UNBATCHED_LIMIT = 5_000;
const PENDING_LIMIT = 100;
/** Looked at again this often even when nothing wakes the recorder (a batch left by a crashed process). */
const IDLE_POLL_MS = 5_000;
const FIRST_RETRY_MS = 250;

/** Kill Bill refuses billing itself (credentials, tenant) or egress refuses Kill Bill: only an operator can fix it. */
export function isConfigurationFault(error: unknown): boolean {
  return error instanceof KillBillError && error.kind === 'configuration';
}

@Injectable()
export class UsageRecorder implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(UsageRecorder.name);
  private readonly events: Counter<'result'>;
  private readonly waitingOwners: Gauge;
  private readonly configurationFault: Gauge;
  private readonly owners: OwnerBackoff;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new WakeableSleep();
  private woken = false;
  private faultSince: number | undefined;

  constructor(
    private readonly ledger: UsageLedgerRepository,
    private readonly accounts: BillingAccountsService,
    private readonly killbill: KillBillClient,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
    metrics: BillingMetrics,
    readiness: ReadinessService,
  ) {
    // A configuration fault holds all billing up until an operator acts: readiness says so, the heartbeat turns
    // degraded and monitoring raises ReadinessFailing (mail, NATS alert, Prometheus mirror).
    readiness.addCheck('killbill', () =>
      this.faultSince === undefined
        ? { ok: true }
        : {
            ok: false,
            error: 'Kill Bill or egress refuses billing (credentials or allowlist); usage waits, nothing is lost',
          },
    );
    this.events = metrics.usageEvents;
    this.waitingOwners = metrics.usageOwnersWaiting;
    this.configurationFault = metrics.killbillConfigurationFault;
    this.owners = new OwnerBackoff({ initialMs: FIRST_RETRY_MS, maxMs: env.SOVREN_BILLING_USAGE_RETRY_MAX_MS });
  }

  /** The counter shared with the stream intake (one metric, one registration). */
  get eventsCounter(): Counter<'result'> {
    return this.events;
  }

  /** True while Kill Bill or egress refuses billing itself (see isConfigurationFault). */
  get configurationFaulty(): boolean {
    return this.faultSince !== undefined;
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
  }

  /** New events are in the ledger: record them now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    this.sleeper.wake();
  }

  private async run(): Promise<void> {
    const failures = new Backoff({ initialMs: FIRST_RETRY_MS, maxMs: this.env.SOVREN_BILLING_USAGE_RETRY_MAX_MS });
    while (!this.stopping) {
      let waitMs: number;
      try {
        this.woken = false;
        const progressed = await this.recordOnce();
        failures.reset();
        this.faultCleared();
        waitMs = progressed ? 0 : Math.min(IDLE_POLL_MS, this.owners.nextRetryInMs() ?? IDLE_POLL_MS);
      } catch (error) {
        if (this.stopping) break;
        waitMs = Math.max(FIRST_RETRY_MS / 5, failures.next());
        if (isConfigurationFault(error)) this.faultSeen(error, failures.retries, waitMs);
        else if (failures.retries === 1 || failures.retries % 10 === 0)
          this.logger.warn({
            msg: 'usage not recorded yet; waiting for PostgreSQL/Kill Bill',
            err: errorMessage(error),
            attempt: failures.retries,
            retry_in_ms: waitMs,
          });
      }
      this.waitingOwners.set(this.owners.size);
      if (waitMs > 0 && !this.woken) await this.sleeper.sleep(waitMs);
    }
  }

  /** One pass over the ledger; true when something was batched or sent (so another pass may find more). */
  async recordOnce(): Promise<boolean> {
    const batched = await this.batchUnbatched();
    const sent = await this.sendPending();
    return batched || sent;
  }

  private async batchUnbatched(): Promise<boolean> {
    const events = await this.ledger.unbatched(UNBATCHED_LIMIT, this.owners.blocked());
    if (events.length === 0) return false;
    const byOwner = new Map<string, LedgerEventForBatch[]>();
    for (const event of events) {
      const list = byOwner.get(event.ownerId) ?? [];
      list.push(event);
      byOwner.set(event.ownerId, list);
    }
    const ready: UsageBatch[] = [];
    try {
      await forEachBounded([...byOwner], this.env.SOVREN_BILLING_USAGE_CONCURRENCY, async ([ownerId, ownerEvents]) => {
        const batch = await this.inOwnerLane(ownerId, () => this.batchOwner(ownerId, ownerEvents));
        if (batch) ready.push(batch);
      });
    } finally {
      // What was built is kept even when another owner's account could not be made ready yet.
      await this.ledger.saveBatches(ready);
    }
    return ready.length > 0;
  }

  /** The owner's batch, or undefined when Kill Bill refuses the owner for good (stored as rejected). */
  private async batchOwner(ownerId: string, ownerEvents: LedgerEventForBatch[]): Promise<UsageBatch | undefined> {
    let account: ReadyAccount;
    try {
      account = await runWithRequestId(accountRequestId(ownerId, ownerEvents), () => this.accounts.ensure(ownerId));
    } catch (error) {
      if (error instanceof KillBillError && refusedForGood(error)) {
        // Kill Bill refuses this owner for good (e.g. the default plan is not in its catalog): keep the events in
        // the ledger under a rejected batch for reconciliation instead of blocking the owner forever.
        const batch = buildUsageBatch('00000000-0000-0000-0000-000000000000', ownerEvents);
        await this.ledger.saveBatch(batch, 'rejected', error.message);
        this.events.inc({ result: 'failed' }, ownerEvents.length);
        this.logger.error({
          msg: 'usage of owner refused by Kill Bill; not billed',
          owner: ownerId,
          events: ownerEvents.length,
          err: error.message,
        });
        return undefined;
      }
      throw error;
    }
    return buildUsageBatch(account.subscriptionId, ownerEvents);
  }

  private async sendPending(): Promise<boolean> {
    const batches = await this.ledger.pendingBatches(PENDING_LIMIT, this.owners.blocked());
    if (batches.length === 0) return false;
    const byOwner = new Map<string, PendingBatch[]>();
    for (const batch of batches) {
      const list = byOwner.get(batch.ownerId) ?? [];
      list.push(batch);
      byOwner.set(batch.ownerId, list);
    }
    let settled = 0;
    await forEachBounded([...byOwner], this.env.SOVREN_BILLING_USAGE_CONCURRENCY, async ([ownerId, ownerBatches]) => {
      await this.inOwnerLane(ownerId, async () => {
        // In order, one at a time: a later record of the owner never overtakes one whose outcome is not known yet.
        for (const batch of ownerBatches) {
          // Under the batch's request id: Kill Bill's X-Request-Id and our log lines about the batch share it.
          await runWithRequestId(batchRequestId(batch.trackingId), () => this.send(batch));
          settled += 1;
        }
      });
    });
    return settled > 0;
  }

  /** Sends one batch and stores its outcome: recorded (Kill Bill has it) or rejected (refused for good). */
  private async send(batch: PendingBatch): Promise<void> {
    if (batch.sentAt) {
      // Sent before without an answer: it may be in Kill Bill. Look before sending it again.
      const waitMs = batch.sentAt.getTime() + this.env.SOVREN_BILLING_USAGE_LOOKUP_AFTER_MS - Date.now();
      if (waitMs > 0) throw new Error(`outcome of usage batch ${batch.trackingId} unknown; looked up in ${waitMs} ms`);
      const found = await this.lookUp(batch);
      if (found === 'recorded') {
        this.logger.log({
          msg: 'usage batch whose answer was lost is in Kill Bill; not sent again',
          tracking_id: batch.trackingId,
        });
        await this.accepted(batch);
        return;
      }
      if (found === 'unclear') {
        throw new Error(
          `Kill Bill's usage totals of subscription ${batch.subscriptionId} match neither with nor without batch ` +
            `${batch.trackingId}; it is not sent again until they do (see docs/billing.md)`,
        );
      }
    }
    await this.ledger.markSending(batch.trackingId);
    try {
      const outcome = await this.killbill.recordUsage(
        { subscriptionId: batch.subscriptionId, trackingId: batch.trackingId, unitUsageRecords: batch.records },
        { reason: 'usage', comment: `${batch.eventCount} usage events` },
      );
      if (outcome === 'duplicate')
        this.logger.log({ msg: 'usage batch was already recorded by Kill Bill', tracking_id: batch.trackingId });
      await this.accepted(batch);
    } catch (error) {
      if (error instanceof KillBillError && refusedForGood(error)) {
        await this.ledger.markRejected(batch.trackingId, error.message);
        this.events.inc({ result: 'failed' }, batch.eventCount);
        this.logger.error({
          msg: 'Kill Bill refused a usage batch; not billed',
          tracking_id: batch.trackingId,
          owner: batch.ownerId,
          err: error.message,
        });
        return;
      }
      await this.ledger
        .noteFailure(batch.trackingId, errorMessage(error), notWritten(error))
        .catch((noteError: unknown) => {
          this.logger.warn({ msg: 'could not note a usage batch attempt', err: errorMessage(noteError) });
        });
      throw error;
    }
  }

  private async accepted(batch: PendingBatch): Promise<void> {
    await this.ledger.markRecorded([batch.trackingId]);
    this.events.inc({ result: 'recorded' }, batch.eventCount);
  }

  /**
   * Whether Kill Bill holds the batch, from its totals (GET /usages/{subscriptionId}) over the batch's days: the
   * batches of the subscription billing knows are recorded, plus this one (recorded) or not (absent); anything else
   * is unclear. Exact because an owner's records are sent one at a time, in order, and none after one whose
   * outcome is unknown: this is the only record of the subscription that may or may not be there.
   */
  private async lookUp(batch: PendingBatch): Promise<'recorded' | 'absent' | 'unclear'> {
    const dates = batch.records.flatMap((unit) => unit.usageRecords.map((record) => record.recordDate.slice(0, 10)));
    const startDate = dates.reduce((a, b) => (a < b ? a : b));
    const endDate = nextDay(dates.reduce((a, b) => (a > b ? a : b)));
    const [inKillBill, known] = await Promise.all([
      this.killbill.getAllRolledUpUsage(batch.subscriptionId, startDate, endDate),
      this.ledger.recordedAmounts(batch.subscriptionId, batch.trackingId, startDate, endDate),
    ]);
    const billed = new Map(inKillBill.rolledUpUnits.map((unit) => [unit.unitType, toMicro(unit.amount)]));
    const mine = new Map<string, bigint>();
    for (const unit of batch.records) {
      const sum = unit.usageRecords.reduce((total, record) => total + toMicro(record.amount), 0n);
      mine.set(unit.unitType, (mine.get(unit.unitType) ?? 0n) + sum);
    }
    const units = new Set([...billed.keys(), ...known.keys(), ...mine.keys()]);
    const before = (unit: string) => (known.has(unit) ? decimalToMicro(known.get(unit) as string) : 0n);
    const holds = (withBatch: boolean) =>
      [...units].every((unit) => (billed.get(unit) ?? 0n) === before(unit) + (withBatch ? (mine.get(unit) ?? 0n) : 0n));
    if (holds(true)) return 'recorded';
    if (holds(false)) return 'absent';
    this.logger.error({
      msg: "Kill Bill's usage totals do not match billing's ledger; the batch waits for an operator",
      tracking_id: batch.trackingId,
      subscription: batch.subscriptionId,
      killbill: Object.fromEntries([...billed].map(([unit, micro]) => [unit, micro.toString()])),
      ledger_recorded: Object.fromEntries([...known]),
    });
    return 'unclear';
  }

  /**
   * Runs one owner's work; its failure puts that owner on its own backoff and is not thrown, so the other owners'
   * usage goes on. A configuration fault is thrown: it is not the owner's, and every owner waits for the fix.
   */
  private async inOwnerLane<T>(ownerId: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await work();
      if (this.owners.succeeded(ownerId))
        this.logger.log({ msg: 'usage of owner is being recorded again', owner: ownerId });
      return result;
    } catch (error) {
      if (isConfigurationFault(error)) throw error;
      const { waitMs, failures } = this.owners.failed(ownerId, errorMessage(error));
      if (failures === 1 || failures % 10 === 0)
        this.logger.warn({
          msg: "owner's usage not recorded yet; retrying that owner later, the others go on",
          owner: ownerId,
          err: errorMessage(error),
          attempt: failures,
          retry_in_ms: waitMs,
        });
      return undefined;
    }
  }

  private faultSeen(error: unknown, attempt: number, waitMs: number): void {
    this.configurationFault.set(1);
    const first = this.faultSince === undefined;
    this.faultSince ??= Date.now();
    if (first || attempt % 10 === 0)
      this.logger.error({
        msg: 'Kill Bill or egress refuses billing (check SOVREN_KILLBILL_* credentials and SOVREN_EGRESS_ALLOWLIST); usage waits, nothing is lost',
        err: errorMessage(error),
        attempt,
        retry_in_ms: waitMs,
      });
  }

  private faultCleared(): void {
    if (this.faultSince === undefined) return;
    this.logger.log({
      msg: 'Kill Bill accepts billing again; recording the usage that waited',
      waited_ms: Date.now() - this.faultSince,
    });
    this.faultSince = undefined;
    this.configurationFault.set(0);
  }
}

/** A failure after which the record is certainly not in Kill Bill (it answered without writing, or nothing left). */
function notWritten(error: unknown): boolean {
  return error instanceof KillBillError && (error.kind === 'circuit_open' || error.kind === 'configuration');
}

/** The day after `date` (`YYYY-MM-DD`). */
function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

/** Kill Bill refused this request itself (bad plan, inactive subscription…); retrying it cannot help. */
function refusedForGood(error: KillBillError): boolean {
  return !error.retryable && error.kind !== 'configuration';
}
