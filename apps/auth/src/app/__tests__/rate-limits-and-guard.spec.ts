// Specification of auth.validate's rate limits and of @sovren/auth-guard in another app: a small Nest app
// (its own process module, NATS connection and guard cache) stands in for billing, inference and the rest.
import { Controller, Get, Module } from '@nestjs/common';
import { AuthGuardModule, AuthRoute, CurrentAuth, type RequestAuth } from '@sovren/auth-guard';
import { AUTH_VALIDATE, AuthValidateReplyV1, NatsClient, parseAuthValidateReplyV1 } from '@sovren/messaging';
import { ServiceModule } from '@sovren/service';

import { RATE_BUCKET_MS, RATE_WINDOW_MS, SlidingWindowRateLimiter } from '../rate-limit/sliding-window.rate-limiter';
import { SessionService } from '../sessions/session.service';
import { UsersRepository } from '../users/users.repository';
import {
  createAuthTestEnvironment,
  startApp,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';
import { bearer, call, dataOf } from './support/http-client';

jest.setTimeout(90_000);

@Controller('api/v1/widgets')
class WidgetsController {
  @Get('public')
  @AuthRoute({ routeClass: 'widgets', allowAnonymous: true })
  publicList(): { ok: true } {
    return { ok: true };
  }

  @Get('status')
  @AuthRoute({ routeClass: 'widgets', allowAnonymous: true, anonymousWhenAuthUnavailable: true })
  status(@CurrentAuth() auth: RequestAuth | undefined): { tier: string | undefined } {
    return { tier: auth?.tier };
  }

  @Get('private')
  @AuthRoute({ routeClass: 'widgets', scopes: ['widgets:read'] })
  privateList(@CurrentAuth() auth: RequestAuth | undefined): { user: string | undefined } {
    return { user: auth?.identity.userId };
  }
}

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'billing', postgres: false, sqlite: [] }),
    AuthGuardModule.forRoot({ cacheTtlMs: 60_000 }),
  ],
  controllers: [WidgetsController],
})
class OtherAppModule {}

describe('rate limits and the shared guard', () => {
  describe('anonymous tier', () => {
    let environment: AuthTestEnvironment;
    let auth: RunningApp;
    let other: RunningApp;

    beforeAll(async () => {
      environment = await createAuthTestEnvironment();
      auth = await startAuthApp(environment);
      other = await startApp(OtherAppModule, environment.env);
    });

    afterAll(async () => {
      await other?.close();
      await auth?.close();
      await environment?.dispose();
    });

    it('answers the 101st anonymous request of the hour with 429 and Retry-After, and the count survives an auth restart', async () => {
      const url = `${other.url}/api/v1/widgets/public`;
      for (let i = 1; i <= 60; i += 1) {
        const answer = await call(url);
        expect(answer.status).toBe(200);
        expect(answer.headers.get('x-ratelimit-limit')).toBe('100');
        expect(answer.headers.get('x-ratelimit-remaining')).toBe(String(100 - i));
      }
      // Restart auth on the same data root: the window is in api_auth.db, not in memory.
      await auth.close();
      auth = await startAuthApp(environment);
      for (let i = 61; i <= 100; i += 1) {
        const answer = await call(url);
        expect(answer.status).toBe(200);
        expect(answer.headers.get('x-ratelimit-remaining')).toBe(String(100 - i));
      }
      const refused = await call(url);
      expect(refused.status).toBe(429);
      expect(refused.body.success).toBe(false);
      expect(refused.body.error?.code).toBe('RATE_LIMITED');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(Number(refused.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);

      // The restarted auth counted 41 validations of anonymous requests, one of them refused.
      const metrics = await (await fetch(`${auth.url}/metrics`)).text();
      expect(metrics).toMatch(/^sovren_auth_validations_total\{[^}]*result="ok_anonymous"[^}]*\} 40$/m);
      expect(metrics).toMatch(/^sovren_auth_validations_total\{[^}]*result="rate_limited"[^}]*\} 1$/m);
      expect(metrics).toMatch(/^sovren_auth_rate_limit_rejections_total\{[^}]*tier="anonymous"[^}]*\} 1$/m);
      expect(metrics).toMatch(/^sovren_auth_validation_duration_seconds_count\{[^}]*kind="anonymous"[^}]*\} 41$/m);
    });

    it('while auth is down fails closed with 503, except credential-less calls to a route that opts into serving them', async () => {
      await auth.close();
      try {
        const closed = await call(`${other.url}/api/v1/widgets/public`);
        expect(closed.status).toBe(503);
        expect(closed.body.error?.code).toBe('SERVICE_UNAVAILABLE');
        const open = await call<{ tier: string }>(`${other.url}/api/v1/widgets/status`);
        expect(open.status).toBe(200);
        expect(dataOf(open).tier).toBe('anonymous');
        expect(open.headers.get('x-ratelimit-limit')).toBeNull();
        const withCredential = await call(`${other.url}/api/v1/widgets/status`, {
          headers: bearer('sov_not_checkable_now'),
        });
        expect(withCredential.status).toBe(503);
      } finally {
        auth = await startAuthApp(environment);
      }
      // Auth is back: the limit applies again (this IP used its 100 requests in the test above).
      const limited = await call(`${other.url}/api/v1/widgets/status`);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-ratelimit-limit')).toBe('100');
    });
  });

  describe('identified tiers', () => {
    let environment: AuthTestEnvironment;
    let auth: RunningApp;
    let other: RunningApp;
    let sessions: SessionService;
    let users: UsersRepository;

    beforeAll(async () => {
      environment = await createAuthTestEnvironment({ SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR: '20' });
      auth = await startAuthApp(environment);
      other = await startApp(OtherAppModule, environment.env);
      sessions = auth.app.get(SessionService);
      users = auth.app.get(UsersRepository);
    });

    afterAll(async () => {
      await other?.close();
      await auth?.close();
      await environment?.dispose();
    });

    async function newKey(scopes: string[]): Promise<{ id: string; key: string; session: string }> {
      const user = users.create({ email: null, displayName: 'Key Owner' });
      const session = sessions.create(user.id, { deviceId: 'd1' });
      const created = await call<{ id: string; key: string }>(`${auth.url}/api/v1/auth/api-keys`, {
        method: 'POST',
        headers: bearer(session.accessToken),
        body: { name: 'k', scopes },
      });
      expect(created.status).toBe(201);
      return { ...dataOf(created), session: session.accessToken };
    }

    it("refuses a revoked key in another app's guard within 1 second, although its answer was cached", async () => {
      const { id, key, session } = await newKey(['widgets:read']);
      const url = `${other.url}/api/v1/widgets/private`;
      expect((await call(url, { headers: { 'x-api-key': key } })).status).toBe(200);
      // The guard caches this answer for 60 s in this app; only auth.revoked can make it forget.
      expect((await call(url, { headers: { 'x-api-key': key } })).status).toBe(200);
      const revoked = await call(`${auth.url}/api/v1/auth/api-keys/${id}`, {
        method: 'DELETE',
        headers: bearer(session),
      });
      expect(revoked.status).toBe(200);
      const revokedAt = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - revokedAt < 1_000) {
        status = (await call(url, { headers: { 'x-api-key': key } })).status;
      }
      expect(status).toBe(401);
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
    });

    it('counts requests served from the guard cache: exactly the tier limit passes, then 429', async () => {
      const { key } = await newKey(['widgets:read']);
      const url = `${other.url}/api/v1/widgets/private`;
      const statuses: number[] = [];
      for (let i = 0; i < 25; i += 1) statuses.push((await call(url, { headers: { 'x-api-key': key } })).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      expect(statuses.slice(20)).toEqual([429, 429, 429, 429, 429]);
    });

    it('refuses a protected route to an anonymous caller with 401', async () => {
      const answer = await call(`${other.url}/api/v1/widgets/private`);
      expect(answer.status).toBe(401);
      expect(answer.body.error?.code).toBe('UNAUTHORIZED');
    });

    it('answers 403 naming the missing scope', async () => {
      const { key } = await newKey(['other:read']);
      const answer = await call(`${other.url}/api/v1/widgets/private`, { headers: { 'x-api-key': key } });
      expect(answer.status).toBe(403);
      expect(answer.body.error?.details).toEqual({ missing_scopes: ['widgets:read'] });
    });

    it('answers auth.validate over NATS with identity, scopes, tier and the rate-limit decision', async () => {
      const { id, key } = await newKey(['widgets:read']);
      const reply = await other.app
        .get(NatsClient)
        .request<
          unknown,
          AuthValidateReplyV1
        >(AUTH_VALIDATE, { v: 1, credential: key, clientIp: '10.1.2.3', routeClass: 'widgets' }, { parse: parseAuthValidateReplyV1 });
      expect(reply).toMatchObject({
        result: 'ok',
        identity: { kind: 'api_key', apiKeyId: id, role: 'user' },
        scopes: ['widgets:read'],
        tier: 'authenticated',
        rateLimit: { allowed: true, limit: 20, remaining: 19 },
      });
    });

    it('refuses a malformed auth.validate request with an error reply naming the field', async () => {
      await expect(other.app.get(NatsClient).request(AUTH_VALIDATE, { v: 1, routeClass: 'widgets' })).rejects.toThrow(
        /clientIp/,
      );
    });

    it('lets requests out of the window after an hour (one-minute buckets)', () => {
      const limiter = auth.app.get(SlidingWindowRateLimiter);
      const start = Date.UTC(2030, 0, 1, 12, 0, 0);
      for (let i = 0; i < 3; i += 1) expect(limiter.hit('test:window', 3, start + i * 1000).allowed).toBe(true);
      const refused = limiter.hit('test:window', 3, start + 30 * 60_000);
      expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfter: 30 * 60 });
      expect(limiter.hit('test:window', 3, start + RATE_WINDOW_MS - 1).allowed).toBe(false);
      const later = limiter.hit('test:window', 3, start + RATE_WINDOW_MS + RATE_BUCKET_MS);
      expect(later).toMatchObject({ allowed: true, remaining: 2 });
    });
  });

  describe('when auth cannot be asked', () => {
    let environment: AuthTestEnvironment;
    let other: RunningApp;

    beforeAll(async () => {
      environment = await createAuthTestEnvironment();
      other = await startApp(OtherAppModule, environment.env);
    });

    afterAll(async () => {
      await other?.close();
      await environment?.dispose();
    });

    it('fails closed with 503 and the error envelope', async () => {
      const answer = await call(`${other.url}/api/v1/widgets/public`);
      expect(answer.status).toBe(503);
      expect(answer.body.error?.code).toBe('SERVICE_UNAVAILABLE');
      expect(answer.body.error?.details).toEqual({ dependency: 'auth' });
    });
  });
});
