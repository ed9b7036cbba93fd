// Publishes call lifecycle events (stream CALLS, `voice.call.<type>`) and one usage event per answered call
// (stream USAGE, `usage.voice`, billed in call_minutes). The event id is the JetStream msgID, so a retry after a
// lost acknowledgement is de-duplicated by the stream. Publishing never blocks signalling; shutdown waits for it.
import { Injectable, Logger } from '@nestjs/common';
import {
  NatsClient,
  callsSubject,
  usageSubject,
  type CallEventType,
  type CallEventV1,
  type CallTurnEventV1,
  type UsageEventV1,
} from '@sovren/messaging';
import { errorMessage, retry } from '@sovren/resilience';
import { randomUUID } from 'node:crypto';

@Injectable()
export class CallEventsPublisher {
  private readonly logger = new Logger(CallEventsPublisher.name);
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly nats: NatsClient) {}

  callEvent(type: CallEventType, fields: Omit<CallEventV1, 'v' | 'eventId' | 'type' | 'occurredAt'>): void {
    const event: CallEventV1 = { v: 1, eventId: randomUUID(), type, occurredAt: new Date().toISOString(), ...fields };
    this.track(callsSubject(type), event, event.eventId);
  }

  /** One agent turn (`voice.call.turn`). */
  turn(fields: Omit<CallTurnEventV1, 'v' | 'eventId' | 'occurredAt'>): void {
    const event: CallTurnEventV1 = { v: 1, eventId: randomUUID(), occurredAt: new Date().toISOString(), ...fields };
    this.track(callsSubject('turn'), event, event.eventId);
  }

  usage(fields: {
    callId: string;
    ownerId: string;
    direction: 'inbound' | 'outbound';
    durationMs: number;
    occurredAt: Date;
  }): void {
    // Billed per started minute, as carriers bill us.
    const minutes = Math.ceil(fields.durationMs / 60_000);
    const event: UsageEventV1 = {
      v: 1,
      eventId: randomUUID(),
      requestId: fields.callId,
      ownerId: fields.ownerId,
      source: 'voice',
      quantities: { call_minutes: minutes },
      call: { callId: fields.callId, direction: fields.direction, durationMs: fields.durationMs },
      occurredAt: fields.occurredAt.toISOString(),
    };
    this.track(usageSubject('voice'), event, event.eventId);
  }

  /** Resolves when every publish started so far is acknowledged or given up (shutdown, tests). */
  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(subject: string, payload: object, msgID: string): void {
    const work = retry(() => this.nats.publishToStream(subject, payload, { msgID }), {
      maxAttempts: 5,
      initialMs: 200,
      maxMs: 3_000,
      onRetry: (error: unknown, attempt: number) =>
        this.logger.warn({ msg: 'call event publish failed, retrying', subject, attempt, err: errorMessage(error) }),
    })
      .then(() => undefined)
      .catch((error: unknown) => {
        this.logger.error({ msg: 'call event not published', subject, payload, err: errorMessage(error) });
      })
      .finally(() => this.pending.delete(work));
    this.pending.add(work);
  }
}
