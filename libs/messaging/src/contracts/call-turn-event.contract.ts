// One conversational turn of a voice-agent call on `voice.call.turn` (JetStream stream CALLS): what the caller
// said, what the agent answered and how much of it the caller heard (a barge-in cuts it), and the latency from the
// end of the caller's speech to the first agent audio packet on the wire, broken down by stage.

import { ContractFieldReader } from './contract-field.reader';

/** Where the time of a turn went (ms); a stage that did not happen (no audio after a barge-in) is absent. */
export interface CallTurnLatencyV1 {
  /** End of the caller's speech → the endpointer declaring the turn over (the end-of-turn silence). */
  endpointingMs: number;
  /** inference.transcribe round trip. */
  asrMs: number;
  /** inference.generate sent → first token. */
  llmFirstTokenMs?: number;
  /** inference.generate sent → first sentence complete (handed to synthesis). */
  firstSentenceMs?: number;
  /** inference.synthesize sent for the first sentence → its first audio. */
  ttsFirstAudioMs?: number;
  /** First audio received → first packet of it on the wire (resampling, the 20 ms clock). */
  queueingMs?: number;
  /** End of the caller's speech → first agent audio packet on the wire. */
  totalMs?: number;
}

export interface CallTurnEventV1 {
  v: 1;
  eventId: string;
  callId: string;
  applicationId: string;
  ownerId: string;
  /** 1, 2, 3… per call (the greeting is turn 0). */
  turn: number;
  callerText: string;
  /** What the agent generated. */
  agentText: string;
  /** What the caller heard of it (all of it unless interrupted). */
  heardText: string;
  interrupted: boolean;
  latency: CallTurnLatencyV1;
  /** Tool calls the agent made this turn (hang up, DTMF, transfer), in order, and whether each succeeded. */
  actions?: CallTurnActionV1[];
  occurredAt: string;
}

export interface CallTurnActionV1 {
  name: string;
  /** JSON text of the arguments. */
  arguments: string;
  ok: boolean;
}

/** Every stage of CallTurnLatencyV1, in pipeline order. */
export const CALL_TURN_LATENCY_FIELDS = [
  'endpointingMs',
  'asrMs',
  'llmFirstTokenMs',
  'firstSentenceMs',
  'ttsFirstAudioMs',
  'queueingMs',
  'totalMs',
] as const;

/** A text that may be empty (the agent may be cut off before its first word). */
function text(r: ContractFieldReader, raw: unknown, field: string): string {
  const value = (raw as Record<string, unknown>)[field];
  if (typeof value !== 'string' || value.length > 1 << 16)
    r.fail(field, 'must be a string of at most 65536 characters');
  return value;
}

export function parseCallTurnEventV1(raw: unknown): CallTurnEventV1 {
  const r: ContractFieldReader = new ContractFieldReader('CallTurnEventV1', raw);
  const interrupted = (raw as Record<string, unknown>)['interrupted'];
  if (typeof interrupted !== 'boolean') r.fail('interrupted', 'must be true or false');
  const l: ContractFieldReader = new ContractFieldReader('CallTurnEventV1.latency', r.object('latency'));
  const latency: Partial<CallTurnLatencyV1> = {};
  for (const field of CALL_TURN_LATENCY_FIELDS) {
    const value = l.optionalNumber(field, { min: 0 });
    if (value !== undefined) latency[field] = value;
  }
  if (latency.endpointingMs === undefined) l.fail('endpointingMs', 'is required');
  if (latency.asrMs === undefined) l.fail('asrMs', 'is required');
  const event: CallTurnEventV1 = {
    v: r.version(1),
    eventId: r.string('eventId', 128),
    callId: r.string('callId', 128),
    applicationId: r.string('applicationId', 64),
    ownerId: r.string('ownerId', 128),
    turn: r.number('turn', { min: 0, integer: true }),
    callerText: text(r, raw, 'callerText'),
    agentText: text(r, raw, 'agentText'),
    heardText: text(r, raw, 'heardText'),
    interrupted,
    latency: latency as CallTurnLatencyV1,
    occurredAt: r.timestamp('occurredAt'),
  };
  const actions = (raw as Record<string, unknown>)['actions'];
  if (actions !== undefined) {
    if (!Array.isArray(actions) || actions.length > 32) r.fail('actions', 'must be an array of at most 32 actions');
    event.actions = actions.map((item: unknown, index: number) => {
      const a: ContractFieldReader = new ContractFieldReader(`CallTurnEventV1.actions[${index}]`, item);
      const ok = (item as Record<string, unknown>)['ok'];
      if (typeof ok !== 'boolean') a.fail('ok', 'must be true or false');
      return { name: a.string('name', 64), arguments: a.string('arguments', 1 << 16), ok };
    });
  }
  return event;
}
