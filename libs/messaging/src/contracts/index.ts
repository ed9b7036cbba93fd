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
