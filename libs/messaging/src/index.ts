// @sovren/messaging: NATS subjects, typed message contracts, the NatsClient and JetStream setup.

export * from './subjects';
export * from './contracts';
// inference.transcribe (issue 17): exported here until contracts/index.ts is free to edit.
export * from './contracts/inference-transcribe.contract';
export * from './client/messaging.errors';
export { ERROR_REPLY_HEADER, type ErrorReply } from './client/error-reply';
export * from './client/nats.client';
export * from './client/stream-request';
export * from './contracts/call-turn-event.contract';
export * from './jetstream-setup';
export * from './messaging.module';
