// Which alerts are firing: compares the conditions that hold now with those that held before and turns the
// differences into AlertV1 events (firing once when a condition appears, resolved once when it goes away).
import { AlertV1 } from '@sovren/messaging';

import { AlertCondition } from './alert-rules';

interface ActiveAlert {
  condition: AlertCondition;
  startsAt: string;
  /** Taken over from a previous monitoring process (history); kept until the start-up grace is over. */
  restored: boolean;
}

export class AlertState {
  private readonly active = new Map<string, ActiveAlert>();

  /**
   * Takes over alerts a previous monitoring process left firing, so they resolve (or keep firing) instead of
   * firing a second time. They cannot resolve before `startupGraceOver`: until every service had time to send a
   * first heartbeat, a missing condition proves nothing.
   */
  restore(alerts: Array<{ condition: AlertCondition; startsAt: string }>): void {
    for (const alert of alerts) {
      if (!this.active.has(alert.condition.fingerprint))
        this.active.set(alert.condition.fingerprint, { ...alert, restored: true });
    }
  }

  update(conditions: AlertCondition[], now: number, startupGraceOver = true): AlertV1[] {
    const time = new Date(now).toISOString();
    const events: AlertV1[] = [];
    const current = new Map(conditions.map((c) => [c.fingerprint, c]));
    for (const [fingerprint, alert] of this.active) {
      if (current.has(fingerprint)) {
        alert.restored = false;
        continue;
      }
      if (alert.restored && !startupGraceOver) continue;
      this.active.delete(fingerprint);
      events.push({ ...toAlert(alert.condition, alert.startsAt), state: 'resolved', endsAt: time });
    }
    for (const [fingerprint, condition] of current) {
      if (this.active.has(fingerprint)) continue;
      this.active.set(fingerprint, { condition, startsAt: time, restored: false });
      events.push(toAlert(condition, time));
    }
    return events;
  }

  firing(): AlertV1[] {
    return [...this.active.values()].map((a) => toAlert(a.condition, a.startsAt));
  }
}

function toAlert(condition: AlertCondition, startsAt: string): AlertV1 {
  const alert: AlertV1 = {
    v: 1,
    fingerprint: condition.fingerprint,
    rule: condition.rule,
    state: 'firing',
    severity: condition.severity,
    summary: condition.summary,
    startsAt,
  };
  if (condition.service !== undefined) alert.service = condition.service;
  return alert;
}
