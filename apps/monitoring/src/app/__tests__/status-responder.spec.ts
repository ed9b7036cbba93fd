// Specification of monitoring.status, the platform status the operator's `sovren status` reads over NATS: the same
// view as GET /api/v1/status (from heartbeats), in the MonitoringStatusReplyV1 contract.
import { MetricsService } from '@sovren/observability';
import { heartbeatSubject, NatsClient, parseMonitoringStatusReplyV1, type HeartbeatV1 } from '@sovren/messaging';

import { MonitoringMetrics } from '../monitoring.metrics';
import { PlatformStatusService } from '../status/platform-status.service';
import { StatusResponder } from '../status/status.responder';

describe('monitoring.status', () => {
  const beat = (service: string, fields: Partial<HeartbeatV1> = {}): HeartbeatV1 => ({
    v: 1,
    service,
    instance: `${service}-1`,
    version: '0.1.0',
    status: 'ok',
    uptimeSeconds: 10,
    time: new Date().toISOString(),
    intervalSeconds: 5,
    ...fields,
  });

  it('answers every service with its state, last error and live instances, in the contract', () => {
    // The NATS client is only used to register the responder at bootstrap, which this test does not run.
    const nats = new NatsClient({ servers: 'nats://127.0.0.1:1', name: 'status-responder-spec' });
    const status = new PlatformStatusService(nats, new MonitoringMetrics(new MetricsService('monitoring')));
    status.onHeartbeat(beat('auth'), heartbeatSubject('auth'));
    status.onHeartbeat(
      beat('billing', { status: 'degraded', failing: ['postgres'], lastError: 'connection refused' }),
      heartbeatSubject('billing'),
    );
    const reply = parseMonitoringStatusReplyV1(new StatusResponder(nats, status).reply());
    expect(reply.services.find((s) => s.service === 'auth')).toMatchObject({ state: 'up', instances: 1 });
    expect(reply.services.find((s) => s.service === 'billing')).toMatchObject({
      state: 'degraded',
      lastError: expect.stringContaining('connection refused'),
      instances: 1,
    });
    // Services never heard from are listed too, so the operator sees what is missing.
    expect(reply.services.map((s) => s.service)).toEqual(expect.arrayContaining(['voice', 'inference', 'monitoring']));
    expect(reply.state).not.toBe('up');
  });
});
