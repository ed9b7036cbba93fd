// An owner's billing standing changed, published to JetStream stream BILLING_TIER on `billing.tier.changed`
// (BILLING_TIER_CHANGED): `downgraded` after repeated payment failure (auth stops granting the premium tier to the
// owner's keys), `restored` once a payment succeeds again. Auth reads it through a durable consumer and, at
// start-up, asks billing for every owner's current standing (`billing.standings`, BILLING_STANDINGS_QUERY).

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

/** Request on `billing.standings`: which owners are downgraded now (auth reconciles its copy at start-up). */
export interface BillingStandingsRequestV1 {
  v: 1;
}

export interface BillingStandingsReplyV1 {
  v: 1;
  /** Every owner billing has downgraded and not restored; any other owner is in good standing. */
  downgraded: string[];
  /** ISO 8601: when billing read them. */
  asOf: string;
}

export function parseBillingStandingsRequestV1(raw: unknown): BillingStandingsRequestV1 {
  return { v: new ContractFieldReader('BillingStandingsRequestV1', raw).version(1) };
}

export function parseBillingStandingsReplyV1(raw: unknown): BillingStandingsReplyV1 {
  const r = new ContractFieldReader('BillingStandingsReplyV1', raw);
  const list = r.present('downgraded');
  if (!Array.isArray(list) || list.some((owner) => typeof owner !== 'string' || owner === '' || owner.length > 128)) {
    r.fail('downgraded', 'must be an array of owner ids (non-empty strings of at most 128 characters)');
  }
  return { v: r.version(1), downgraded: [...(list as string[])], asOf: r.timestamp('asOf') };
}
