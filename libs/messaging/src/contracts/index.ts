// Typed, versioned NATS message contracts with their runtime validators.

export * from './contract.error';
export * from './ping.contract';
export * from './heartbeat.contract';
export * from './usage-event.contract';
export * from './audit-event.contract';
export * from './agent-message.contract';
export * from './auth-validate.contract';
export * from './auth-revoked.contract';
export * from './alert.contract';
export * from './inference-generate.contract';
export * from './inference-models.contract';
export * from './inference-synthesize.contract';
export * from './billing-notification.contract';
export * from './billing-tier.contract';
export * from './usage-dead-letter.contract';
export * from './auth-admin.contract';
export * from './operator.contract';
export * from './call-event.contract';
