// Turns unbatched ledger events of one owner into one Kill Bill usage record (per unit and day) with a
// deterministic trackingId: the same events always give the same trackingId, so no retry can bill twice.
import { createHash } from 'node:crypto';

import type { KillBillUnitUsageRecord } from '@sovren/killbill';
import type { UsageQuantities } from '@sovren/messaging';

export interface LedgerEventForBatch {
  eventId: string;
  ownerId: string;
  quantities: UsageQuantities;
  occurredAt: string;
}

export interface UsageBatch {
  trackingId: string;
  ownerId: string;
  subscriptionId: string;
  eventIds: string[];
  records: KillBillUnitUsageRecord[];
}

const MICRO = 1_000_000n;

/** Amounts are summed exactly in millionths (six decimal places are kept; more are rounded). */
export function toMicro(amount: number): bigint {
  return BigInt(Math.round(amount * 1_000_000));
}

/** A decimal string (PostgreSQL numeric text, e.g. `12.5`) in millionths, exactly (digits past six are cut). */
export function decimalToMicro(text: string): bigint {
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const micro = BigInt(whole || '0') * MICRO + BigInt((fraction + '000000').slice(0, 6));
  return negative ? -micro : micro;
}

export function fromMicro(micro: bigint): string {
  const whole = micro / MICRO;
  const fraction = (micro % MICRO).toString().padStart(6, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

export function buildUsageBatch(subscriptionId: string, events: LedgerEventForBatch[]): UsageBatch {
  if (events.length === 0) throw new Error('buildUsageBatch: no events');
  const ownerId = events[0].ownerId;
  const sums = new Map<string, Map<string, bigint>>();
  for (const event of events) {
    if (event.ownerId !== ownerId) throw new Error('buildUsageBatch: events of several owners');
    const day = new Date(event.occurredAt).toISOString().slice(0, 10);
    for (const [unit, amount] of Object.entries(event.quantities)) {
      if (amount === undefined || amount === 0) continue;
      const byDay = sums.get(unit) ?? new Map<string, bigint>();
      sums.set(unit, byDay);
      byDay.set(day, (byDay.get(day) ?? 0n) + toMicro(amount));
    }
  }
  const records: KillBillUnitUsageRecord[] = [...sums.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([unitType, byDay]) => ({
      unitType,
      usageRecords: [...byDay.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([recordDate, micro]) => ({ recordDate, amount: Number(fromMicro(micro)) })),
    }));
  const eventIds = events.map((event) => event.eventId).sort();
  const trackingId = createHash('sha256')
    .update(`${subscriptionId}\n${eventIds.join('\n')}`)
    .digest('hex');
  return { trackingId, ownerId, subscriptionId, eventIds, records };
}

/**
 * X-Request-Id of the Kill Bill calls that make the owner's account ready for these events: derived from them, so
 * a redelivery or a retry of the same events shows up in Kill Bill's logs under the same id.
 */
export function accountRequestId(ownerId: string, events: LedgerEventForBatch[]): string {
  const eventIds = events.map((event) => event.eventId).sort();
  return `usage-account-${createHash('sha256')
    .update(`${ownerId}\n${eventIds.join('\n')}`)
    .digest('hex')
    .slice(0, 40)}`;
}

/** X-Request-Id of the Kill Bill call that records a batch: its trackingId, which is already deterministic. */
export function batchRequestId(trackingId: string): string {
  return `usage-${trackingId}`;
}
