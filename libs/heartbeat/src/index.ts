// @sovren/heartbeat: every service's periodic `monitoring.heartbeat.<service>` (HeartbeatV1) for monitoring.
export * from './lib/heartbeat.env';
export * from './lib/heartbeat.message';
export * from './lib/heartbeat.publisher';
export * from './lib/heartbeat.module';
