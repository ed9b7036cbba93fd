// An audit event on `audit.<entity>` (JetStream stream AUDIT): who did what to which record.

import { ContractFieldReader } from './contract-field.reader';

export const AUDIT_ACTIONS = ['create', 'update', 'delete', 'restore', 'login', 'logout', 'revoke'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEventV1 {
  v: 1;
  eventId: string;
  /** Entity type, also the last subject token: `organization`, `api_key`… */
  entity: string;
  entityId: string;
  action: AuditAction;
  /** User or service that acted; absent for system actions. */
  actorId?: string;
  requestId?: string;
  /** Changed fields (new values), never secrets. */
  changes?: Record<string, unknown>;
  occurredAt: string;
}

export function parseAuditEventV1(raw: unknown): AuditEventV1 {
  const r = new ContractFieldReader('AuditEventV1', raw);
  const event: AuditEventV1 = {
    v: r.version(1),
    eventId: r.string('eventId', 128),
    entity: r.string('entity', 64),
    entityId: r.string('entityId', 128),
    action: r.oneOf('action', AUDIT_ACTIONS),
    occurredAt: r.timestamp('occurredAt'),
  };
  const actorId = r.optionalString('actorId', 128);
  if (actorId !== undefined) event.actorId = actorId;
  const requestId = r.optionalString('requestId', 128);
  if (requestId !== undefined) event.requestId = requestId;
  const changes = r.optionalObject('changes');
  if (changes !== undefined) event.changes = changes;
  return event;
}
