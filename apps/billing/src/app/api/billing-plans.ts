// The plans of deploy/killbill/catalog.xml, one per platform tier (the catalog file is the source; keep in step).
export const BILLING_PLANS = [
  { name: 'sovren-free-monthly', tier: 'free', monthlyFeeUsd: 0 },
  { name: 'sovren-authenticated-monthly', tier: 'authenticated', monthlyFeeUsd: 9 },
  { name: 'sovren-premium-monthly', tier: 'premium', monthlyFeeUsd: 49 },
] as const;

export const BILLING_PLAN_NAMES: readonly string[] = BILLING_PLANS.map((plan) => plan.name);
