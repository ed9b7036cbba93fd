// An alert raised or resolved by monitoring's rules, published on `monitoring.alert` (MONITORING_ALERT).
// One alert (same `fingerprint`) is published once when it starts firing and once when it resolves.

import { ContractFieldReader } from './contract-field.reader';

export const ALERT_STATES = ['firing', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export const ALERT_SEVERITIES = ['critical', 'warning'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export interface AlertV1 {
  v: 1;
  /** Stable identity of the condition, e.g. `ServiceDown:billing`; firing and resolved share it. */
  fingerprint: string;
  /** Rule name, the same as the mirrored Prometheus alert (`ServiceDown`, `DiskNearlyFull`…). */
  rule: string;
  state: AlertState;
  severity: AlertSeverity;
  /** The service concerned, when the alert is about one. */
  service?: string;
  /** One human-readable line for operators. */
  summary: string;
  /** ISO 8601 time the condition started. */
  startsAt: string;
  /** ISO 8601 time the condition ended; only on `resolved`. */
  endsAt?: string;
}

export function parseAlertV1(raw: unknown): AlertV1 {
  const r = new ContractFieldReader('AlertV1', raw);
  const alert: AlertV1 = {
    v: r.version(1),
    fingerprint: r.string('fingerprint', 256),
    rule: r.string('rule', 64),
    state: r.oneOf('state', ALERT_STATES),
    severity: r.oneOf('severity', ALERT_SEVERITIES),
    summary: r.string('summary', 1024),
    startsAt: r.timestamp('startsAt'),
  };
  const service = r.optionalString('service', 64);
  if (service !== undefined) alert.service = service;
  if (alert.state === 'resolved') alert.endsAt = r.timestamp('endsAt');
  else if ((raw as Record<string, unknown>)['endsAt'] !== undefined) r.fail('endsAt', 'must be absent while firing');
  return alert;
}
