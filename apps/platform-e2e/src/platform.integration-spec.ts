// The five services as an operator runs them: real processes, real NATS (ours, so we can stop it),
// a throwaway PostgreSQL database and SQLite files under a temporary SOVREN_ROOT.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, JSONCodec, NatsConnection } from 'nats';
import { OAuth2Server } from 'oauth2-mock-server';
import { Client } from 'pg';

import { DEFAULT_EGRESS_ALLOWLIST } from '@sovren/config';

import { Platform, SERVICES } from './support/platform';
import { parsePrometheusText } from './support/prometheus-text';

/** The platform's response envelope, loosely typed for assertions. */
interface Envelope {
  success: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  error?: { code: string; message: string; details?: any };
  meta: { timestamp: string; version: string; request_id: string };
}

const envelope = (res: Response): Promise<Envelope> => res.json() as Promise<Envelope>;

describe('SOVREN platform', () => {
  let platform: Platform;
  /** An enterprise OIDC issuer (found by discovery) for the login through the built auth bundle. */
  let issuer: OAuth2Server;

  beforeAll(async () => {
    issuer = new OAuth2Server();
    await issuer.issuer.keys.generate('RS256');
    await issuer.start(0, '127.0.0.1');
    const issuerUrl = issuer.issuer.url as string;
    platform = await Platform.start({
      env: {
        SOVREN_AUTH_OIDC_PROVIDERS: JSON.stringify([
          {
            id: 'corp',
            name: 'Corp SSO',
            type: 'oidc',
            issuer: issuerUrl,
            client_id: 'corp-client',
            client_secret: 'corp-secret',
          },
        ]),
        SOVREN_EGRESS_ALLOWLIST: [...DEFAULT_EGRESS_ALLOWLIST, new URL(issuerUrl).host].join(','),
      },
    });
  });

  afterAll(async () => {
    await platform?.stop();
    if (issuer?.listening) await issuer.stop();
  });

  it.each(SERVICES)('%s is live and ready, in the response envelope', async (name) => {
    const s = platform.service(name);
    const live = await fetch(`${s.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${s.baseUrl}/health/ready`, { headers: { 'X-Request-Id': `ready-${name}` } });
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-request-id')).toBe(`ready-${name}`);
    const body = await envelope(ready);
    expect(body).toMatchObject({
      success: true,
      data: { status: 'ready' },
      meta: { version: 'v1', request_id: `ready-${name}` },
    });
    expect(typeof body.meta.timestamp).toBe('string');
    expect(body.data.checks.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(['nats', 'postgres']));
  });

  it.each(SERVICES)('%s serves valid Prometheus text with the HTTP duration histogram', async (name) => {
    const s = platform.service(name);
    await fetch(`${s.baseUrl}/health/live`);
    const res = await fetch(`${s.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const { samples, types } = parsePrometheusText(await res.text());
    expect(types.get('sovren_http_request_duration_seconds')).toBe('histogram');
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    const live = samples.find(
      (x) =>
        x.name === 'sovren_http_request_duration_seconds_count' &&
        x.labels['route'] === '/health/live' &&
        x.labels['status'] === '200',
    );
    expect(live?.value).toBeGreaterThanOrEqual(1);
    expect(live?.labels['service']).toBe(name);
  });

  it('signs in through an OIDC provider with the built auth service (passport, state + PKCE + nonce)', async () => {
    const auth = platform.service('auth').baseUrl;
    const start = await fetch(`${auth}/api/v1/auth/login/corp?return_to=/welcome`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location') as string);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const binding = (start.headers.get('set-cookie') ?? '').split(';')[0];
    expect(binding).toMatch(/^sovren_login=/);
    const atProvider = await fetch(authorize, { redirect: 'manual' });
    expect(atProvider.status).toBe(302);
    // The provider sends the browser to the configured public URL; this test reaches auth on its own port.
    const back = new URL(atProvider.headers.get('location') as string);
    expect(back.pathname).toBe('/api/v1/auth/callback/corp');
    const callback = await fetch(`${auth}${back.pathname}${back.search}`, {
      redirect: 'manual',
      headers: { cookie: binding },
    });
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe('/welcome');
    const access = callback.headers.getSetCookie().find((cookie) => cookie.startsWith('sovren_access='));
    expect(access).toBeDefined();
    const me = await fetch(`${auth}/api/v1/auth/me`, { headers: { cookie: (access as string).split(';')[0] } });
    expect(me.status).toBe(200);
    expect((await envelope(me)).data.identities).toEqual([{ provider: 'corp', email: null }]);
  });

  describe('over NATS', () => {
    let nc: NatsConnection;
    beforeAll(async () => {
      nc = await connect({ servers: platform.nats.url });
    });
    afterAll(async () => {
      await nc?.drain();
    });

    it.each(SERVICES)('%s answers its <service>.ping', async (name) => {
      const codec = JSONCodec<Record<string, unknown>>();
      const reply = await nc.request(`${name}.ping`, codec.encode({}), { timeout: 2000 });
      expect(codec.decode(reply.data)).toMatchObject({ v: 1, service: name });
    });
  });

  it('answers an unknown route with the error envelope and 404', async () => {
    const res = await fetch(`${platform.service('billing').baseUrl}/api/v1/no-such-thing`);
    expect(res.status).toBe(404);
    const body = await envelope(res);
    expect(body).toMatchObject({ success: false, error: { code: 'NOT_FOUND' }, meta: { version: 'v1' } });
    expect(typeof body.meta.request_id).toBe('string');
  });

  it('refuses a bad request with 400 and per-field details', async () => {
    const res = await fetch(`${platform.service('auth').baseUrl}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: 42, extra: true }),
    });
    expect(res.status).toBe(400);
    const body = await envelope(res);
    expect(body.success).toBe(false);
    expect(body.error?.code).toBe('VALIDATION_FAILED');
    const fields = body.error?.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['refresh_token', 'extra']));
  });

  it('refuses an anonymous write to an admin resource with 401 and creates nothing', async () => {
    const base = platform.service('auth').baseUrl;
    const res = await fetch(`${base}/api/v1/organizations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Acme', slug: 'acme' }),
    });
    expect(res.status).toBe(401);
    expect((await envelope(res)).error?.code).toBe('UNAUTHORIZED');
    const db = new Client({ connectionString: platform.database.url });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM organizations');
      expect(rows[0].n).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('creates the SQLite databases each service owns under SOVREN_ROOT/data', () => {
    for (const db of ['users', 'api_auth', 'applications', 'phone_numbers']) {
      expect(existsSync(join(platform.root, 'data', `${db}.db`))).toBe(true);
    }
  });

  it('turns every readiness to 503 naming nats while NATS is down, and recovers when it is back', async () => {
    await platform.nats.stop();
    await platform.waitUntil(503, 30_000);
    const res = await fetch(`${platform.service('voice').baseUrl}/health/ready`);
    const body = await envelope(res);
    expect(body).toMatchObject({
      success: false,
      error: { code: 'SERVICE_UNAVAILABLE', details: { failing: ['nats'] } },
    });
    await platform.nats.restart();
    await platform.waitUntil(200, 30_000);
  });

  it('logs JSON lines carrying the request id', async () => {
    const s = platform.service('monitoring');
    await fetch(`${s.baseUrl}/api/v1/nope`, { headers: { 'X-Request-Id': 'trace-me-123' } });
    await new Promise((r) => setTimeout(r, 200));
    const json = s.process.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(json.length).toBeGreaterThan(0);
    expect(
      json.every((l) => typeof l.time === 'string' && typeof l.level === 'string' && l.service === 'monitoring'),
    ).toBe(true);
    expect(json.some((l) => l.request_id === 'trace-me-123')).toBe(true);
  });

  it('shuts every service down cleanly on SIGTERM', async () => {
    for (const s of platform.services.values()) {
      const result = await s.process.stop(10_000);
      expect({ service: s.name, code: result.code, forced: result.forced }).toEqual({
        service: s.name,
        code: 0,
        forced: false,
      });
    }
  });
});
