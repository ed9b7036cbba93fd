// An owner's billing standing changed, published on `billing.tier.changed` (BILLING_TIER_CHANGED): `downgraded`
// after repeated payment failure (auth stops granting the premium tier to the owner's keys), `restored` once a
// payment succeeds again.

import { ContractFieldReader } from './contract-field.reader';

export const BILLING_STANDINGS = ['downgraded', 'restored'] as const;
export type BillingStanding = (typeof BILLING_STANDINGS)[number];

export interface BillingTierChangedV1 {
  v: 1;
  /** The user or organisation id from auth. */
  ownerId: string;
  standing: BillingStanding;
  /** Why, for operators: e.g. `3 consecutive payment failures (invoice …)`. */
  reason: string;
  /** ISO 8601. */
  changedAt: string;
}

export function parseBillingTierChangedV1(raw: unknown): BillingTierChangedV1 {
  const r = new ContractFieldReader('BillingTierChangedV1', raw);
  return {
    v: r.version(1),
    ownerId: r.string('ownerId', 128),
    standing: r.oneOf('standing', BILLING_STANDINGS),
    reason: r.string('reason', 512),
    changedAt: r.timestamp('changedAt'),
  };
}
