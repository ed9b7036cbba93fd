// A call lifecycle event on `voice.call.<type>` (JetStream stream CALLS), published by the voice service.
// `eventId` is the JetStream msgID (a retried publish is de-duplicated by the stream).

import { ContractFieldReader } from './contract-field.reader';

export const CALL_EVENT_TYPES = ['ringing', 'answered', 'dtmf', 'ended'] as const;
export type CallEventType = (typeof CALL_EVENT_TYPES)[number];

export interface CallEventV1 {
  v: 1;
  eventId: string;
  type: CallEventType;
  /** Our call id (voice_calls.id). */
  callId: string;
  sipCallId: string;
  direction: 'inbound' | 'outbound';
  from: string;
  to: string;
  applicationId?: string;
  ownerId?: string;
  /** `dtmf`: the digit (0-9, *, #, A-D). */
  digit?: string;
  /** `ended`: why, who hung up, and how long the call was answered. */
  hangupCause?: string;
  hangupSide?: 'local' | 'remote';
  durationMs?: number;
  occurredAt: string;
}

export function parseCallEventV1(raw: unknown): CallEventV1 {
  const r = new ContractFieldReader('CallEventV1', raw);
  const event: CallEventV1 = {
    v: r.version(1),
    eventId: r.string('eventId', 128),
    type: r.oneOf('type', CALL_EVENT_TYPES),
    callId: r.string('callId', 128),
    sipCallId: r.string('sipCallId', 256),
    direction: r.oneOf('direction', ['inbound', 'outbound'] as const),
    from: r.string('from', 64),
    to: r.string('to', 64),
    occurredAt: r.timestamp('occurredAt'),
  };
  const applicationId = r.optionalString('applicationId', 64);
  if (applicationId !== undefined) event.applicationId = applicationId;
  const ownerId = r.optionalString('ownerId', 128);
  if (ownerId !== undefined) event.ownerId = ownerId;
  const digit = r.optionalString('digit', 1);
  if (digit !== undefined) event.digit = digit;
  const hangupCause = r.optionalString('hangupCause', 32);
  if (hangupCause !== undefined) event.hangupCause = hangupCause;
  if (r.optionalString('hangupSide', 8) !== undefined)
    event.hangupSide = r.oneOf('hangupSide', ['local', 'remote'] as const);
  const durationMs = r.optionalNumber('durationMs', { min: 0 });
  if (durationMs !== undefined) event.durationMs = durationMs;
  return event;
}
