// Specification of the JetStream fill reading behind StreamNearlyFull, against a real nats-server: a stream filled
// past 80 % of its max_bytes raises the alert, one below does not, and the gauge Prometheus reads follows.
import { NatsClient } from '@sovren/messaging';
import { MetricsService } from '@sovren/observability';
import { NatsTestServer } from '@sovren/testing';
import { DiscardPolicy, RetentionPolicy, StorageType } from 'nats';

import { evaluateAlertRules } from '../alert-rules';
import { JetStreamStreamsSampler } from '../jetstream-streams.sampler';

describe('JetStream stream fill', () => {
  let server: NatsTestServer;
  let client: NatsClient;

  beforeAll(async () => {
    server = await NatsTestServer.start({ jetstream: true });
    client = new NatsClient({ servers: server.url, name: 'monitoring-stream-sampler-test' });
    await client.connect();
  });

  afterAll(async () => {
    await client?.drain();
    await server?.dispose();
  });

  it('reads a stream past 80 % of max_bytes as nearly full, and one below as not', async () => {
    const jsm = await client.jetstreamManager();
    for (const name of ['FILLED', 'EMPTYISH']) {
      await jsm.streams.add({
        name,
        subjects: [`${name.toLowerCase()}.>`],
        storage: StorageType.Memory,
        retention: RetentionPolicy.Workqueue,
        discard: DiscardPolicy.New,
        max_bytes: 8_192,
      });
    }
    const js = client.jetstream();
    const payload = new Uint8Array(200);
    for (let i = 0; i < 40; i += 1) {
      try {
        await js.publish('filled.x', payload);
      } catch {
        break; // full (discard new): the stream refuses more, which is what the alert warns about
      }
    }
    await js.publish('emptyish.x', payload);
    const metrics = new MetricsService('monitoring-test');
    const sampler = new JetStreamStreamsSampler(client, metrics);

    const readings = await sampler.sample(['FILLED', 'EMPTYISH', 'MISSING']);

    expect(readings.map((r) => r.stream)).toEqual(['FILLED', 'EMPTYISH']);
    expect(readings[0].usedRatio).toBeGreaterThan(0.8);
    expect(readings[1].usedRatio).toBeLessThan(0.1);
    const alerts = evaluateAlertRules({
      services: [],
      startupGraceOver: true,
      errorRates: new Map(),
      interTokenP99: new Map(),
      gpus: [],
      streams: readings,
      thresholds: {
        diskUsedRatio: 0.9,
        errorRatio: 0.05,
        gpuTemperatureCelsius: 85,
        gpuMemoryUsedRatio: 0.95,
        interTokenP99Seconds: 0.09,
      },
    });
    expect(alerts.map((a) => a.fingerprint)).toEqual(['StreamNearlyFull:FILLED']);
    expect(await metrics.registry.getSingleMetricAsString('sovren_nats_stream_used_ratio')).toMatch(
      /sovren_nats_stream_used_ratio\{stream="FILLED"[^}]*\} 0\.(8|9)\d*/,
    );
  });
});
