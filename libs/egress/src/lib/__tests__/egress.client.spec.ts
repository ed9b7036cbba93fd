import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigModule } from '@sovren/config';
import { testPlatformConfig } from '@sovren/config/testing';
import { JsonLogger, MetricsService, ObservabilityModule } from '@sovren/observability';
import { IncomingMessage, ServerResponse } from 'node:http';

import { LocalTestServer, startLocalTestServer } from '../../testing/local-test-server';
import { EgressClient } from '../egress.client';
import { EgressError, EgressErrorCode, EgressRefusedError } from '../egress.errors';
import { EgressModule } from '../egress.module';

// The one forbidden host this suite proves the refusal with.
const FORBIDDEN_HOST = 'api.openai.com'; // sovereignty-lint-allow: the test proving egress refuses it

interface Received {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function errorOf(promise: Promise<unknown>): Promise<EgressError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EgressError) return error;
    throw error;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

async function counterValue(metrics: MetricsService, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  const match = values.find((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted));
  return match?.value ?? 0;
}

describe('EgressClient', () => {
  let server: LocalTestServer;
  let hangingServer: LocalTestServer;
  const received: Received[] = [];
  const logLines: string[] = [];

  beforeAll(async () => {
    server = await startLocalTestServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        received.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url === '/redirect') {
          res.writeHead(302, { Location: 'https://elsewhere.invalid/' }).end();
          return;
        }
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ echoed: body === '' ? null : body, path: req.url }));
      });
    });
    // Accepts the request and never answers: only the client's timeout ends it.
    hangingServer = await startLocalTestServer(() => undefined);
    Logger.overrideLogger(new JsonLogger('voice', 'debug', (line) => logLines.push(line)));
  });

  afterAll(async () => {
    Logger.overrideLogger(true);
    await server.close();
    await hangingServer.close();
  });

  function clientAllowing(...entries: string[]): { client: EgressClient; metrics: MetricsService } {
    const config = testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: entries.length > 0 ? entries.join(',') : 'none' });
    const metrics = new MetricsService('voice');
    return { client: new EgressClient(config, metrics), metrics };
  }

  it(`refuses ${FORBIDDEN_HOST} with EGRESS_HOST_NOT_ALLOWED, a log line and a metric`, async () => {
    const { client, metrics } = clientAllowing('api.skyetel.com');

    const error = await errorOf(
      client.request(`https://${FORBIDDEN_HOST}/v1/chat/completions`, {
        method: 'POST',
        headers: { Authorization: 'Bearer sk-very-secret' },
        body: { model: 'x' },
      }),
    );

    expect(error).toBeInstanceOf(EgressRefusedError);
    expect(error.code).toBe(EgressErrorCode.HOST_NOT_ALLOWED);
    expect(error.message).toContain(`Egress to ${FORBIDDEN_HOST} refused`);
    expect(error.message).toContain('SOVREN_EGRESS_ALLOWLIST');
    expect(await counterValue(metrics, 'sovren_egress_refused_total', { host: FORBIDDEN_HOST })).toBe(1);
    expect(
      await counterValue(metrics, 'sovren_egress_requests_total', { host: FORBIDDEN_HOST, outcome: 'refused' }),
    ).toBe(1);
    const warn = logLines.map((line) => JSON.parse(line)).find((line) => line.host === FORBIDDEN_HOST);
    expect(warn).toMatchObject({
      level: 'warn',
      context: 'EgressClient',
      msg: 'egress refused',
      code: 'EGRESS_HOST_NOT_ALLOWED',
    });
    expect(logLines.join('')).not.toContain('sk-very-secret');
  });

  it('refuses a host that is not allowlisted without ever connecting to it', async () => {
    // Same server, but not the exact host:port on the list: a bare host allows only the default port, and
    // "localhost" is not "127.0.0.1".
    const { client } = clientAllowing('127.0.0.1', `localhost:${server.port}`);
    const before = server.connections();

    const byBareHost = await errorOf(client.request(`${server.url}/anything`));
    const byOtherName = await errorOf(client.request(`http://LOCALHOST:${hangingServer.port}/`));

    expect(byBareHost.code).toBe(EgressErrorCode.HOST_NOT_ALLOWED);
    expect(byBareHost.message).toContain(`add "${server.hostPort}"`);
    expect(byOtherName.code).toBe(EgressErrorCode.HOST_NOT_ALLOWED);
    expect(server.connections()).toBe(before);
    expect(hangingServer.connections()).toBe(0);
  });

  it('sends an allowlisted request and returns the response, encoding an object body as JSON', async () => {
    const { client, metrics } = clientAllowing(server.hostPort);

    const response = await client.request(`${server.url}/accounts?limit=1`, {
      method: 'post',
      headers: { 'X-AUTH-SID': 'sid-1' },
      body: { name: 'Ada' },
    });

    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.json()).toEqual({ echoed: '{"name":"Ada"}', path: '/accounts?limit=1' });
    const last = received[received.length - 1];
    expect(last).toMatchObject({ method: 'POST', url: '/accounts?limit=1', body: '{"name":"Ada"}' });
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['x-auth-sid']).toBe('sid-1');
    expect(
      await counterValue(metrics, 'sovren_egress_requests_total', { host: server.hostPort, outcome: 'success' }),
    ).toBe(1);
    expect(await metrics.metrics()).toContain(
      `sovren_egress_request_duration_seconds_count{service="voice",host="${server.hostPort}"} 1`,
    );
    expect(logLines.join('')).not.toContain('sid-1');
  });

  it('returns error statuses and redirects instead of throwing or following them', async () => {
    const { client, metrics } = clientAllowing(server.hostPort);

    const missing = await client.request(`${server.url}/missing`);
    const redirect = await client.request(`${server.url}/redirect`);

    expect(missing.status).toBe(404);
    expect(missing.ok).toBe(false);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://elsewhere.invalid/');
    expect(
      await counterValue(metrics, 'sovren_egress_requests_total', { host: server.hostPort, outcome: 'client_error' }),
    ).toBe(1);
  });

  it('gives up after timeoutMs with EGRESS_TIMEOUT', async () => {
    const { client, metrics } = clientAllowing(hangingServer.hostPort);

    const error = await errorOf(client.request(hangingServer.url, { timeoutMs: 200 }));

    expect(error.code).toBe(EgressErrorCode.TIMEOUT);
    expect(error.message).toBe(`Egress to ${hangingServer.hostPort} timed out after 200 ms`);
    expect(
      await counterValue(metrics, 'sovren_egress_requests_total', { host: hangingServer.hostPort, outcome: 'timeout' }),
    ).toBe(1);
  });

  it('reports a refused connection as EGRESS_NETWORK_ERROR naming the cause', async () => {
    const closed = await startLocalTestServer(() => undefined);
    await closed.close();
    const { client } = clientAllowing(closed.hostPort);

    const error = await errorOf(client.request(closed.url));

    expect(error.code).toBe(EgressErrorCode.NETWORK_ERROR);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('refuses non-http schemes and unparseable URLs before connecting', async () => {
    const { client, metrics } = clientAllowing(server.hostPort);

    const ftp = await errorOf(client.request(`ftp://${server.hostPort}/file`));
    const file = await errorOf(client.request('file:///etc/passwd'));
    const garbage = await errorOf(client.request('not a url'));

    expect(ftp).toBeInstanceOf(EgressRefusedError);
    expect(ftp.code).toBe(EgressErrorCode.SCHEME_NOT_ALLOWED);
    expect(file.code).toBe(EgressErrorCode.SCHEME_NOT_ALLOWED);
    expect(garbage.code).toBe(EgressErrorCode.INVALID_URL);
    expect(await counterValue(metrics, 'sovren_egress_refused_total', { host: server.hostPort })).toBe(1);
  });

  it('refuses everything when the allowlist is "none"', async () => {
    const { client } = clientAllowing();

    expect((await errorOf(client.request(`${server.url}/`))).code).toBe(EgressErrorCode.HOST_NOT_ALLOWED);
  });

  it('rejects malformed requests with EGRESS_INVALID_REQUEST and oversized bodies with EGRESS_RESPONSE_TOO_LARGE', async () => {
    const { client } = clientAllowing(server.hostPort);

    expect((await errorOf(client.request(server.url, { body: 'x' }))).code).toBe(EgressErrorCode.INVALID_REQUEST);
    expect((await errorOf(client.request(server.url, { timeoutMs: 0 }))).code).toBe(EgressErrorCode.INVALID_REQUEST);
    expect((await errorOf(client.request(`${server.url}/big`, { maxResponseBytes: 5 }))).code).toBe(
      EgressErrorCode.RESPONSE_TOO_LARGE,
    );
  });
});

describe('EgressModule', () => {
  it('provides an EgressClient wired to the platform config and metrics', async () => {
    const server = await startLocalTestServer((_req, res) => res.end('pong'));
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [
          ConfigModule.forRoot(testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: server.hostPort })),
          ObservabilityModule.forRoot('billing'),
          EgressModule.forRoot(),
        ],
      }).compile();
      const client = moduleRef.get(EgressClient);

      expect((await client.request(server.url)).text()).toBe('pong');
      expect(await moduleRef.get(MetricsService).metrics()).toContain('sovren_egress_requests_total{');
      await moduleRef.close();
    } finally {
      await server.close();
    }
  });
});
