// Operator requests outside auth, sent by the `sovren` CLI: load / unload a model (`inference.models.load`,
// `inference.models.unload`, answered with the model's state once done) and the platform status as monitoring
// sees it (`monitoring.status`, the same data as GET /api/v1/status).

import { ContractFieldReader } from './contract-field.reader';
import { parseInferenceModelsReplyV1, type InferenceModelV1 } from './inference-models.contract';

export interface InferenceModelControlRequestV1 {
  v: 1;
  /** The model's id (its GGUF file stem). */
  id: string;
}

export interface InferenceModelControlReplyV1 {
  v: 1;
  model: InferenceModelV1;
  /** Unload: whether it was loaded. */
  wasLoaded?: boolean;
}

export function parseInferenceModelControlRequestV1(raw: unknown): InferenceModelControlRequestV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceModelControlRequestV1', raw);
  const id = r.string('id', 256);
  if (!/^[A-Za-z0-9._-]+$/.test(id)) r.fail('id', 'must be a model id (letters, digits, ".", "_", "-")');
  return { v: r.version(1), id };
}

export function parseInferenceModelControlReplyV1(raw: unknown): InferenceModelControlReplyV1 {
  const r: ContractFieldReader = new ContractFieldReader('InferenceModelControlReplyV1', raw);
  const [model] = parseInferenceModelsReplyV1({ v: 1, models: [r.object('model')] }).models;
  const reply: InferenceModelControlReplyV1 = { v: r.version(1), model };
  const wasLoaded = (raw as Record<string, unknown>)['wasLoaded'];
  if (wasLoaded !== undefined) {
    if (typeof wasLoaded !== 'boolean') r.fail('wasLoaded', 'must be a boolean');
    reply.wasLoaded = wasLoaded;
  }
  return reply;
}

export interface MonitoringStatusServiceV1 {
  service: string;
  state: string;
  since: string;
  lastError: string | null;
  /** Running instances that sent a heartbeat. */
  instances: number;
}

export interface MonitoringStatusReplyV1 {
  v: 1;
  state: string;
  checkedAt: string;
  services: MonitoringStatusServiceV1[];
}

export function parseMonitoringStatusReplyV1(raw: unknown): MonitoringStatusReplyV1 {
  const r: ContractFieldReader = new ContractFieldReader('MonitoringStatusReplyV1', raw);
  const list = (raw as Record<string, unknown>)['services'];
  if (!Array.isArray(list)) r.fail('services', 'must be an array');
  const services = list.map((item, index) => {
    const s: ContractFieldReader = new ContractFieldReader(`MonitoringStatusReplyV1.services[${index}]`, item);
    const lastError = (item as Record<string, unknown>)['lastError'];
    return {
      service: s.string('service', 64),
      state: s.string('state', 32),
      since: s.timestamp('since'),
      lastError: lastError === null ? null : s.string('lastError', 4096),
      instances: s.number('instances', { min: 0, integer: true }),
    };
  });
  return { v: r.version(1), state: r.string('state', 32), checkedAt: r.timestamp('checkedAt'), services };
}
