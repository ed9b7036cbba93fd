// Every NATS subject SOVREN uses, declared once: producers and consumers import these instead of typing strings.
//
// WARNING: never change a subject value without a migration plan. Running services, durable JetStream
// consumers and stored stream messages all match on these exact strings; renaming one silently splits
// producers from consumers (messages are published to a subject nobody listens to any more).

/** Characters NATS treats specially inside a subject token (separator, wildcards, whitespace). */
const FORBIDDEN_TOKEN_CHARS = /[.*>\s]/;

/**
 * Checks one dynamic token (a service name, usage source, entity…) before it is spliced into a subject,
 * so that a bad value cannot turn into a wildcard or an extra level.
 */
export function subjectToken(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new Error(`NATS subject token "${what}" must be a non-empty string`);
  }
  if (FORBIDDEN_TOKEN_CHARS.test(value)) {
    throw new Error(`NATS subject token "${what}" must not contain '.', '*', '>' or whitespace (got "${value}")`);
  }
  return value;
}

/** Request/reply liveness check answered by every service: `<service>.ping`. */
export function pingSubject(service: string): string {
  return `${subjectToken(service, 'service')}.ping`;
}

/** Periodic heartbeat published by every service to monitoring: `monitoring.heartbeat.<service>`. */
export function heartbeatSubject(service: string): string {
  return `monitoring.heartbeat.${subjectToken(service, 'service')}`;
}

/** Wildcard monitoring subscribes to for all heartbeats. */
export const HEARTBEAT_ALL = 'monitoring.heartbeat.*';

/** Request/reply: validate a session or API key against auth's local store. */
export const AUTH_VALIDATE = 'auth.validate';
/** Event: a session or API key was revoked; every local validation cache must drop it. */
export const AUTH_REVOKED = 'auth.revoked';

// Operator requests (the `sovren` CLI, the dev launcher): only the NATS user `cli` may send them.
/** Request/reply: create a local user (an admin by default) without any OAuth provider. */
export const AUTH_ADMIN_USERS_CREATE = 'auth.admin.users.create';
/** Request/reply: every user. */
export const AUTH_ADMIN_USERS_LIST = 'auth.admin.users.list';
/** Request/reply: set a user's role. */
export const AUTH_ADMIN_USERS_PROMOTE = 'auth.admin.users.promote';
/** Request/reply: mint an API key for a user (shown once in the reply). */
export const AUTH_ADMIN_KEYS_CREATE = 'auth.admin.keys.create';
/** Request/reply: the API keys of one user or of all. */
export const AUTH_ADMIN_KEYS_LIST = 'auth.admin.keys.list';
/** Request/reply: revoke an API key. */
export const AUTH_ADMIN_KEYS_REVOKE = 'auth.admin.keys.revoke';
/** Every admin subject of auth (what auth's admin responder and the `cli` user's permission cover). */
export const AUTH_ADMIN_ALL = 'auth.admin.>';

/** Request/reply: generate text with the local engine. */
export const INFERENCE_GENERATE = 'inference.generate';
/** Request/reply: list the models the inference service has loaded or can load. */
export const INFERENCE_MODELS = 'inference.models';
/** Request/reply (operator): load a model; the reply comes once it is loaded or failed. */
export const INFERENCE_MODELS_LOAD = 'inference.models.load';
/** Request/reply (operator): unload a model. */
export const INFERENCE_MODELS_UNLOAD = 'inference.models.unload';

/** Event: cancel the `inference.generate` request `requestId` (the acceptance reply names this subject). */
export function inferenceCancelSubject(requestId: string): string {
  return `inference.cancel.${subjectToken(requestId, 'requestId')}`;
}

/** Request/reply: synthesise speech; PCM chunks follow on the caller's stream subject (inference-synthesize.contract). */
export const INFERENCE_SYNTHESIZE = 'inference.synthesize';

/** Event: cancel the `inference.synthesize` request `requestId` (the acceptance reply names this subject). */
export function inferenceSynthesizeCancelSubject(requestId: string): string {
  return `inference.synthesize.cancel.${subjectToken(requestId, 'requestId')}`;
}

/** Request/reply (operator): the platform status from heartbeats, as GET /api/v1/status shows it. */
export const MONITORING_STATUS = 'monitoring.status';

/** Event: an alert raised by monitoring's rules. */
export const MONITORING_ALERT = 'monitoring.alert';

/** JetStream (stream USAGE): a billable usage event from a source (`inference`, `voice`…). */
export function usageSubject(source: string): string {
  return `usage.${subjectToken(source, 'source')}`;
}

/** JetStream (stream CALLS): a call lifecycle event `voice.call.<event>` (`ringing`, `answered`, `dtmf`, `ended`). */
export function callsSubject(event: string): string {
  return `voice.call.${subjectToken(event, 'event')}`;
}

/** JetStream (stream AUDIT): an audit event about an entity type (`organization`, `api_key`…). */
export function auditSubject(entity: string): string {
  return `audit.${subjectToken(entity, 'entity')}`;
}

/** JetStream (stream AGENTS): a message addressed to an agent (`strike`, `intel`, `ops`, `sentinel`, `command`). */
export function agentsSubject(agent: string): string {
  return `agents.${subjectToken(agent, 'agent')}`;
}

/** Wildcards matching each JetStream stream's subjects (see jetstream-setup.ts). */
export const USAGE_ALL = 'usage.>';
export const CALLS_ALL = 'voice.call.>';
export const AUDIT_ALL = 'audit.>';
export const AGENTS_ALL = 'agents.>';

/** Event: a Kill Bill push notification, confirmed by re-fetching its object (invoice created, payment failed…). */
export const BILLING_NOTIFICATION = 'billing.notification';
/**
 * JetStream (stream BILLING_TIER): an owner's billing standing changed (downgraded after repeated payment failure,
 * or restored); auth applies it.
 */
export const BILLING_TIER_CHANGED = 'billing.tier.changed';
/** Request/reply: every owner billing has downgraded now (auth reconciles its copy at start-up). */
export const BILLING_STANDINGS_QUERY = 'billing.standings';
/** Event: a usage event billing could not accept (malformed, invalid); it was dead-lettered and nothing was billed. */
export const BILLING_USAGE_DEAD_LETTER = 'billing.usage.dead_letter';
