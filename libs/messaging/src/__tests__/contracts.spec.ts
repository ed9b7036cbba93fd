// Specification of the message contracts' runtime validators and of the subject builders.

import {
  agentsSubject,
  auditSubject,
  callsSubject,
  ContractError,
  createAgentMessageV1,
  heartbeatSubject,
  parseAgentMessageV1,
  parseAuditEventV1,
  parseCallEventV1,
  parseHeartbeatV1,
  parsePingReplyV1,
  parseUsageEventV1,
  pingSubject,
  usageSubject,
  type UsageEventV1,
} from '../index';

function usageEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    v: 1,
    eventId: '7d0f6c1e-4a55-4a83-9a43-1f2f4ae0d7a1',
    requestId: 'req-1',
    ownerId: 'owner-1',
    keyId: 'key-1',
    source: 'inference',
    quantities: { llm_tokens_in: 10, llm_tokens_out: 32 },
    llm: {
      model: 'llama-3-8b-q8_0',
      promptTokens: 10,
      completionTokens: 32,
      finishReason: 'stop',
      queueMs: 1.5,
      timeToFirstTokenMs: 40,
      durationMs: 900,
    },
    occurredAt: '2025-01-31T12:00:00.000Z',
    ...overrides,
  };
}

function contractErrorOf(fn: () => unknown): ContractError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ContractError) return error;
    throw error;
  }
  throw new Error('expected a ContractError');
}

describe('subjects', () => {
  it('builds the per-service and per-event subjects', () => {
    expect(pingSubject('auth')).toBe('auth.ping');
    expect(heartbeatSubject('billing')).toBe('monitoring.heartbeat.billing');
    expect(usageSubject('inference')).toBe('usage.inference');
    expect(auditSubject('organization')).toBe('audit.organization');
    expect(agentsSubject('sentinel')).toBe('agents.sentinel');
    expect(callsSubject('answered')).toBe('voice.call.answered');
  });

  it('refuses tokens that would add a level or a wildcard', () => {
    expect(() => pingSubject('auth.x')).toThrow(/service/);
    expect(() => usageSubject('*')).toThrow(/source/);
    expect(() => heartbeatSubject('')).toThrow(/non-empty/);
  });
});

describe('parseUsageEventV1', () => {
  it('accepts a complete event and returns it unchanged', () => {
    const raw = usageEvent();
    const parsed: UsageEventV1 = parseUsageEventV1(raw);
    expect(parsed).toEqual(raw);
  });

  it('accepts an event without the optional fields', () => {
    const parsed = parseUsageEventV1(
      usageEvent({ keyId: undefined, llm: undefined, quantities: { asr_seconds: 12.5 } }),
    );
    expect(parsed).not.toHaveProperty('keyId');
    expect(parsed).not.toHaveProperty('llm');
    expect(parsed.quantities).toEqual({ asr_seconds: 12.5 });
  });

  it('names the missing field', () => {
    const error = contractErrorOf(() => parseUsageEventV1(usageEvent({ ownerId: undefined })));
    expect(error.field).toBe('ownerId');
    expect(error.message).toContain('UsageEventV1: field "ownerId"');
    expect(error.code).toBe('INVALID_PAYLOAD');
  });

  it('refuses a negative quantity, an unknown unit, no unit, a bad time, a bad detail and another version', () => {
    const of = (overrides: Record<string, unknown>) => contractErrorOf(() => parseUsageEventV1(usageEvent(overrides)));
    expect(of({ quantities: { llm_tokens_in: -1 } }).field).toBe('quantities.llm_tokens_in');
    expect(of({ quantities: { llm_tokens_out: '3' } }).field).toBe('quantities.llm_tokens_out');
    expect(of({ quantities: { bananas: 1 } }).field).toBe('quantities.bananas');
    expect(of({ quantities: {} }).field).toBe('quantities');
    expect(of({ quantities: undefined }).field).toBe('quantities');
    expect(of({ occurredAt: 'yesterday' }).field).toBe('occurredAt');
    expect(of({ v: 2 }).field).toBe('v');
    const llm = usageEvent()['llm'] as Record<string, unknown>;
    expect(of({ llm: { ...llm, promptTokens: 1.5 } }).field).toBe('promptTokens');
    expect(of({ llm: { ...llm, finishReason: 'bored' } }).field).toBe('finishReason');
  });

  it('refuses a payload that is not an object', () => {
    expect(contractErrorOf(() => parseUsageEventV1('hello')).field).toBe('(payload)');
    expect(contractErrorOf(() => parseUsageEventV1(null)).field).toBe('(payload)');
  });
});

describe('call events and call usage', () => {
  const callEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    v: 1,
    eventId: '5b4f3c2e-0d1a-4e5f-8a9b-0c1d2e3f4a5b',
    type: 'ended',
    callId: '0b7f5a9e-3c1d-4e2f-9a8b-7c6d5e4f3a2b',
    sipCallId: 'a84b4c76e66710@192.0.2.4',
    direction: 'inbound',
    from: '+15559870000',
    to: '+15551230001',
    applicationId: 'app-1',
    ownerId: 'owner-1',
    hangupCause: 'bye',
    hangupSide: 'remote',
    durationMs: 2500,
    occurredAt: '2026-12-03T07:00:00.000Z',
    ...overrides,
  });
  const callErrorOf = (overrides: Record<string, unknown>) =>
    contractErrorOf(() => parseCallEventV1(callEvent(overrides)));

  it('accepts a call event and returns it unchanged', () => {
    expect(parseCallEventV1(callEvent())).toEqual(callEvent());
    const dtmf = callEvent({ type: 'dtmf', digit: '#', hangupCause: undefined, hangupSide: undefined });
    expect(parseCallEventV1(dtmf)).toMatchObject({ type: 'dtmf', digit: '#' });
  });

  it('refuses an unknown event type, direction or hang-up side, and a digit longer than one character', () => {
    expect(callErrorOf({ type: 'exploded' }).field).toBe('type');
    expect(callErrorOf({ direction: 'sideways' }).field).toBe('direction');
    expect(callErrorOf({ hangupSide: 'both' }).field).toBe('hangupSide');
    expect(callErrorOf({ digit: '12' }).field).toBe('digit');
    expect(callErrorOf({ durationMs: -1 }).field).toBe('durationMs');
  });

  it('carries a call usage detail billed in call_minutes', () => {
    const raw = usageEvent({
      source: 'voice',
      llm: undefined,
      quantities: { call_minutes: 3 },
      call: { callId: 'c-1', direction: 'outbound', durationMs: 150_000 },
    });
    expect(parseUsageEventV1(raw).call).toEqual({ callId: 'c-1', direction: 'outbound', durationMs: 150_000 });
    const bad = { callId: 'c-1', direction: 'sideways', durationMs: 1 };
    expect(contractErrorOf(() => parseUsageEventV1(usageEvent({ call: bad }))).field).toBe('direction');
  });
});

describe('ping, heartbeat and audit contracts', () => {
  it('validates a ping reply', () => {
    const reply = {
      v: 1,
      service: 'auth',
      instance: 'host-1:123',
      version: '0.1.0',
      uptimeSeconds: 3,
      time: new Date().toISOString(),
    };
    expect(parsePingReplyV1(reply)).toEqual(reply);
    expect(contractErrorOf(() => parsePingReplyV1({ ...reply, uptimeSeconds: 'long' })).field).toBe('uptimeSeconds');
  });

  it('validates a heartbeat', () => {
    const beat = {
      v: 1,
      service: 'voice',
      instance: 'i',
      version: '1',
      status: 'degraded',
      uptimeSeconds: 1,
      time: '2025-01-31T12:00:00Z',
      intervalSeconds: 10,
    };
    expect(parseHeartbeatV1(beat)).toEqual(beat);
    expect(contractErrorOf(() => parseHeartbeatV1({ ...beat, status: 'sleepy' })).field).toBe('status');
  });

  it('validates the inference inter-token histogram of a heartbeat', () => {
    const beat = {
      v: 1,
      service: 'inference',
      instance: 'i',
      version: '1',
      status: 'ok',
      uptimeSeconds: 1,
      time: '2025-01-31T12:00:00Z',
      intervalSeconds: 10,
      interTokenSeconds: { le: [0.01, 0.05, 0.09], cumulative: [3, 9, 10], count: 12 },
    };
    expect(parseHeartbeatV1(beat)).toEqual(beat);
    const bad = (interTokenSeconds: unknown) =>
      contractErrorOf(() => parseHeartbeatV1({ ...beat, interTokenSeconds })).field;
    expect(bad({ le: [0.05, 0.01], cumulative: [1, 2], count: 2 })).toBe('le');
    expect(bad({ le: [0.01, 0.05], cumulative: [2, 1], count: 2 })).toBe('cumulative');
    expect(bad({ le: [0.01], cumulative: [1, 2], count: 2 })).toBe('cumulative');
    expect(bad({ le: [0.01], cumulative: [5], count: 2 })).toBe('count');
    expect(bad({ le: ['x'], cumulative: [1], count: 2 })).toBe('le');
  });

  it('validates an audit event', () => {
    const event = {
      v: 1,
      eventId: 'e1',
      entity: 'organization',
      entityId: 'o1',
      action: 'update',
      changes: { name: 'Acme' },
      occurredAt: '2025-01-31T12:00:00+01:00',
    };
    expect(parseAuditEventV1(event)).toEqual(event);
    expect(contractErrorOf(() => parseAuditEventV1({ ...event, changes: [1] })).field).toBe('changes');
  });
});

describe('AgentMessageV1', () => {
  it('round-trips a created message with a nanosecond timestamp and a valid checksum', () => {
    const message = createAgentMessageV1('strike', 'command', { decision: 'reroute', confidence: 0.91 });
    expect(message.timestampNs).toMatch(/^\d{19,}$/);
    expect(parseAgentMessageV1(JSON.parse(JSON.stringify(message)))).toEqual(message);
  });

  it('does not depend on payload key order', () => {
    const message = createAgentMessageV1('ops', 'all', { a: 1, b: { c: 2, d: 3 } });
    const reordered = { ...message, payload: { b: { d: 3, c: 2 }, a: 1 } };
    expect(parseAgentMessageV1(reordered).checksum).toBe(message.checksum);
  });

  it('refuses a message whose payload was altered', () => {
    const message = createAgentMessageV1('sentinel', 'ops', { threat: 'none' });
    const tampered = { ...message, payload: { threat: 'high' } };
    expect(contractErrorOf(() => parseAgentMessageV1(tampered)).field).toBe('checksum');
  });

  it('refuses an unknown agent and a timestamp that is not a decimal string', () => {
    const message = createAgentMessageV1('intel', 'strike', {});
    expect(contractErrorOf(() => parseAgentMessageV1({ ...message, source: 'hal' })).field).toBe('source');
    expect(contractErrorOf(() => parseAgentMessageV1({ ...message, timestampNs: 12 })).field).toBe('timestampNs');
  });
});
