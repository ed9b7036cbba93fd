// Test support: deterministic usage events (a seeded generator, so every run publishes the same events) and the
// exact per-owner, per-unit sums they must add up to in Kill Bill.
import type { UsageEventV1, UsageUnit } from '@sovren/messaging';

import { toMicro } from '../../usage/usage-batch.builder';

/** Park–Miller generator: the same seed gives the same sequence on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed % 2147483647 || 1;
  return () => {
    state = (state * 16807) % 2147483647;
    return (state - 1) / 2147483646;
  };
}

export function ownerIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`);
}

export function usageEvents(count: number, owners: string[], seed = 42): UsageEventV1[] {
  const random = seededRandom(seed);
  const events: UsageEventV1[] = [];
  for (let i = 0; i < count; i += 1) {
    const owner = owners[Math.floor(random() * owners.length)];
    const day = 1 + (i % 3);
    const kind = random();
    const event: UsageEventV1 = {
      v: 1,
      eventId: `evt-${seed}-${String(i).padStart(6, '0')}`,
      requestId: `req-${i}`,
      ownerId: owner,
      source: kind < 0.6 ? 'inference' : 'voice',
      quantities:
        kind < 0.6
          ? { llm_tokens_in: 1 + Math.floor(random() * 2000), llm_tokens_out: Math.floor(random() * 800) }
          : kind < 0.8
            ? { asr_seconds: Math.round(random() * 1200) / 2, call_minutes: 1 + Math.floor(random() * 30) }
            : { tts_characters: 1 + Math.floor(random() * 5000) },
      occurredAt: `2026-03-0${day}T${String(i % 24).padStart(2, '0')}:00:00.000Z`,
    };
    events.push(event);
  }
  return events;
}

/** owner → unit → sum in millionths. */
export function expectedSums(events: UsageEventV1[]): Map<string, Map<UsageUnit, bigint>> {
  const sums = new Map<string, Map<UsageUnit, bigint>>();
  for (const event of events) {
    const byUnit = sums.get(event.ownerId) ?? new Map<UsageUnit, bigint>();
    sums.set(event.ownerId, byUnit);
    for (const [unit, amount] of Object.entries(event.quantities) as Array<[UsageUnit, number]>) {
      byUnit.set(unit, (byUnit.get(unit) ?? 0n) + toMicro(amount));
    }
  }
  return sums;
}
