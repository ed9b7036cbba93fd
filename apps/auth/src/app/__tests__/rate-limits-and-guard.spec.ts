// Specification of auth.validate's rate limits and of @sovren/auth-guard in another app: a small Nest app
// (its own process module, NATS connection and guard cache) stands in for billing, inference and the rest.
import { Controller, Delete, Get, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AuthGuardModule, AuthRoute, CurrentAuth, ROLE_SCOPES, type RequestAuth, type Scope } from '@sovren/auth-guard';
import { AUTH_VALIDATE, AuthValidateReplyV1, NatsClient, parseAuthValidateReplyV1 } from '@sovren/messaging';
import { ServiceModule } from '@sovren/service';
import { bearer, call, dataOf } from '@sovren/testing';

import { ApiKeyService } from '../api-keys/api-key.service';
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
  @AuthRoute({ routeClass: 'widgets', scopes: ['billing:read'] })
  privateList(@CurrentAuth() auth: RequestAuth | undefined): { user: string | undefined } {
    return { user: auth?.identity.userId };
  }

  /** Stands in for billing's DELETE /subscription. */
  @Delete('subscription')
  @AuthRoute({ routeClass: 'widgets', scopes: ['billing:write'] })
  cancel(): { cancelled: true } {
    return { cancelled: true };
  }

  /** Stands in for inference's model load: admins only, with the admin scope. */
  @Post('models/load')
  @AuthRoute({ routeClass: 'widgets', roles: ['admin'], scopes: ['inference:admin'] })
  load(): { loaded: true } {
    return { loaded: true };
  }
}

/** A guarded route that names no scope and is not public: the app must refuse to start. */
@Controller('api/v1/undeclared')
class UndeclaredController {
  @Get()
  @AuthRoute({ routeClass: 'widgets' })
  open(): { ok: true } {
    return { ok: true };
  }
}

@Module({
  imports: [
    ServiceModule.forRoot({ service: 'billing', postgres: false, sqlite: [] }),
    AuthGuardModule.forRoot({ cacheTtlMs: 60_000 }),
  ],
  controllers: [UndeclaredController],
})
class UndeclaredAppModule {}

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

    it('answers the 101st anonymous request of the hour with 429 and Retry-After, and the count survives an auth restart (X-Forwarded-For from an untrusted peer ignored)', async () => {
      const url = `${other.url}/api/v1/widgets/public`;
      for (let i = 1; i <= 60; i += 1) {
        // No proxy is trusted here: a forged X-Forwarded-For changes nothing, all count for this one address.
        const answer = await call(url, { headers: { 'x-forwarded-for': `203.0.113.${i}` } });
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
      environment = await createAuthTestEnvironment({
        SOVREN_AUTH_RATE_AUTHENTICATED_PER_HOUR: '20',
        SOVREN_AUTH_MAX_API_KEYS_PER_USER: '3',
      });
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

    /**
     * A key of a new user (or of `options.owner`), created by ApiKeyService as the HTTP route would, so that the
     * creation itself spends none of the user's hourly budget; with the owner's session for HTTP calls.
     */
    function newKey(
      scopes: Scope[],
      options: { owner?: { userId: string; session: string }; ratePerHour?: number } = {},
    ): { id: string; key: string; userId: string; session: string } {
      const userId = options.owner?.userId ?? users.create({ email: null, displayName: 'Key Owner' }).id;
      const session = options.owner?.session ?? sessions.create(userId, { deviceId: 'd1' }).accessToken;
      const created = auth.app
        .get(ApiKeyService)
        .create({ userId, role: 'user' }, { name: 'k', scopes, ratePerHour: options.ratePerHour });
      return { id: created.id, key: created.key, userId, session };
    }

    async function statusesOf(key: string, count: number): Promise<number[]> {
      const statuses: number[] = [];
      for (let i = 0; i < count; i += 1) {
        statuses.push((await call(`${other.url}/api/v1/widgets/private`, { headers: { 'x-api-key': key } })).status);
      }
      return statuses;
    }

    it("counts every key of a user against the user's one hourly budget (the guard cache included)", async () => {
      const first = newKey(['billing:read']);
      const second = newKey(['billing:read'], { owner: first });
      expect(await statusesOf(first.key, 12)).toEqual(Array(12).fill(200));
      // 12 of the user's 20 are spent (11 of them served from this app's cache, not reported yet): 8 left.
      expect(await statusesOf(second.key, 10)).toEqual([...Array(8).fill(200), 429, 429]);
      expect((await call(`${other.url}/api/v1/widgets/private`, { headers: { 'x-api-key': first.key } })).status).toBe(
        429,
      );
    });

    it("holds a key to its own lower limit while its user's other keys go on", async () => {
      const limited = newKey(['billing:read'], { ratePerHour: 3 });
      const sibling = newKey(['billing:read'], { owner: limited });
      expect(await statusesOf(limited.key, 5)).toEqual([200, 200, 200, 429, 429]);
      expect(await statusesOf(sibling.key, 2)).toEqual([200, 200]);
    });

    it('caps the active keys of a user (409 naming the cap); a revoked key frees its place', async () => {
      const first = newKey(['billing:read']);
      newKey(['billing:read'], { owner: first });
      newKey(['billing:read'], { owner: first });
      const create = () =>
        call(`${auth.url}/api/v1/auth/api-keys`, {
          method: 'POST',
          headers: bearer(first.session),
          body: { name: 'one too many', scopes: ['billing:read'] },
        });
      const refused = await create();
      expect(refused.status).toBe(409);
      expect(refused.body.error?.details).toEqual({ active_keys: 3, max_active_keys: 3 });
      const revoked = await call(`${auth.url}/api/v1/auth/api-keys/${first.id}`, {
        method: 'DELETE',
        headers: bearer(first.session),
      });
      expect(revoked.status).toBe(200);
      expect((await create()).status).toBe(201);
    });

    it("refuses a revoked key in another app's guard within 1 second, although its answer was cached", async () => {
      const { id, key, session } = newKey(['billing:read']);
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
      const { key } = newKey(['billing:read']);
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

    it('answers 403 INSUFFICIENT_SCOPE naming the missing scope', async () => {
      const { key } = newKey(['voice:calls']);
      const answer = await call(`${other.url}/api/v1/widgets/private`, { headers: { 'x-api-key': key } });
      expect(answer.status).toBe(403);
      expect(answer.body.error?.code).toBe('INSUFFICIENT_SCOPE');
      expect(answer.body.error?.details).toEqual({ missing_scopes: ['billing:read'] });
      expect(answer.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="billing:read"');
    });

    it('a key with only inference:generate cannot cancel a subscription (403 INSUFFICIENT_SCOPE)', async () => {
      const { key } = newKey(['inference:generate']);
      const answer = await call(`${other.url}/api/v1/widgets/subscription`, {
        method: 'DELETE',
        headers: { 'x-api-key': key },
      });
      expect(answer.status).toBe(403);
      expect(answer.body.error?.code).toBe('INSUFFICIENT_SCOPE');
    });

    it("a key of an admin with only inference:generate cannot load models; the admin's session can", async () => {
      const admin = users.create({ email: null, displayName: 'Operator', role: 'admin' });
      const session = sessions.create(admin.id, { deviceId: 'd1' });
      const created = await call<{ key: string }>(`${auth.url}/api/v1/auth/api-keys`, {
        method: 'POST',
        headers: bearer(session.accessToken),
        body: { name: 'generate only', scopes: ['inference:generate'] },
      });
      const url = `${other.url}/api/v1/widgets/models/load`;
      const byKey = await call(url, { method: 'POST', headers: { 'x-api-key': dataOf(created).key } });
      expect(byKey.status).toBe(403);
      expect(byKey.body.error?.code).toBe('INSUFFICIENT_SCOPE');
      expect((await call(url, { method: 'POST', headers: bearer(session.accessToken) })).status).toBe(201);
    });

    it("gives a session its user's role scopes, not a wildcard: a user's session holds no admin scope", async () => {
      const user = users.create({ email: null, displayName: 'Plain User' });
      const admin = users.create({ email: null, displayName: 'Operator', role: 'admin' });
      const nats = other.app.get(NatsClient);
      const scopesOf = async (userId: string) =>
        (
          await nats.request<unknown, AuthValidateReplyV1>(
            AUTH_VALIDATE,
            {
              v: 1,
              credential: sessions.create(userId, { deviceId: 'd1' }).accessToken,
              clientIp: '10.1.2.3',
              routeClass: 'widgets',
            },
            { parse: parseAuthValidateReplyV1 },
          )
        ).scopes;
      const userScopes = await scopesOf(user.id);
      expect([...userScopes].sort()).toEqual([...ROLE_SCOPES.user].sort());
      expect(userScopes).not.toContain('*');
      expect(userScopes).not.toContain('inference:admin');
      expect([...(await scopesOf(admin.id))].sort()).toEqual([...ROLE_SCOPES.admin].sort());
      const userSession = sessions.create(user.id, { deviceId: 'd1' });
      const refused = await call(`${other.url}/api/v1/widgets/models/load`, {
        method: 'POST',
        headers: bearer(userSession.accessToken),
      });
      expect(refused.status).toBe(403);
    });

    it('answers auth.validate over NATS with identity, scopes, tier and the rate-limit decision', async () => {
      const { id, key } = newKey(['billing:read']);
      const reply = await other.app
        .get(NatsClient)
        .request<
          unknown,
          AuthValidateReplyV1
        >(AUTH_VALIDATE, { v: 1, credential: key, clientIp: '10.1.2.3', routeClass: 'widgets' }, { parse: parseAuthValidateReplyV1 });
      expect(reply).toMatchObject({
        result: 'ok',
        identity: { kind: 'api_key', apiKeyId: id, role: 'user' },
        scopes: ['billing:read'],
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

  describe('behind a trusted reverse proxy', () => {
    let environment: AuthTestEnvironment;
    let auth: RunningApp;
    let other: RunningApp;

    beforeAll(async () => {
      environment = await createAuthTestEnvironment({
        SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '5',
        SOVREN_TRUSTED_PROXIES: '127.0.0.0/8, ::1',
      });
      auth = await startAuthApp(environment);
      other = await startApp(OtherAppModule, environment.env);
    });

    afterAll(async () => {
      await other?.close();
      await auth?.close();
      await environment?.dispose();
    });

    const from = (forwardedFor: string) => ({ 'x-forwarded-for': forwardedFor });

    it("counts anonymous requests per client address from X-Forwarded-For: one client's 429 is not another's", async () => {
      const url = `${other.url}/api/v1/widgets/public`;
      for (let i = 0; i < 5; i += 1) expect((await call(url, { headers: from('203.0.113.1') })).status).toBe(200);
      expect((await call(url, { headers: from('203.0.113.1') })).status).toBe(429);
      // A forged hop on the left changes nothing: the rightmost untrusted hop is the client.
      expect((await call(url, { headers: from('198.51.100.9, 203.0.113.1') })).status).toBe(429);
      expect((await call(url, { headers: from('203.0.113.2') })).status).toBe(200);
    });

    it('counts refused credentials per client address too (429 once the address has used its hour)', async () => {
      const url = `${other.url}/api/v1/widgets/private`;
      const junk = { 'x-api-key': `sov_abcdefgh_${'A'.repeat(43)}` };
      for (let i = 0; i < 5; i += 1) {
        expect((await call(url, { headers: { ...junk, ...from('203.0.113.3') } })).status).toBe(401);
      }
      expect((await call(url, { headers: { ...junk, ...from('203.0.113.3') } })).status).toBe(429);
      expect((await call(url, { headers: { ...junk, ...from('203.0.113.4') } })).status).toBe(401);
    });

    it('counts a refresh with a valid refresh token against its user, never the anonymous bucket', async () => {
      const refresh = `${auth.url}/api/v1/auth/refresh`;
      const client = from('203.0.113.5');
      for (let i = 0; i < 5; i += 1) {
        const junk = await call(refresh, { method: 'POST', headers: client, body: { refresh_token: 'srt_junk' } });
        expect(junk.status).toBe(401);
      }
      const limited = await call(refresh, { method: 'POST', headers: client, body: { refresh_token: 'srt_junk' } });
      expect(limited.status).toBe(429);
      const user = auth.app.get(UsersRepository).create({ email: null, displayName: 'Proxied' });
      const issued = auth.app.get(SessionService).create(user.id, { deviceId: 'd1' });
      const valid = await call(refresh, {
        method: 'POST',
        headers: client,
        body: { refresh_token: issued.refreshToken },
      });
      expect(valid.status).toBe(200);
      // The user's budget (the authenticated tier), not the anonymous bucket of 5.
      expect(valid.headers.get('x-ratelimit-limit')).not.toBe('5');
    });
  });

  describe('cross-site writes with a session cookie', () => {
    let environment: AuthTestEnvironment;
    let auth: RunningApp;

    beforeAll(async () => {
      environment = await createAuthTestEnvironment({ SOVREN_PUBLIC_ORIGINS: 'https://sovren.example.com' });
      auth = await startAuthApp(environment);
    });

    afterAll(async () => {
      await auth?.close();
      await environment?.dispose();
    });

    it('refuses a cookie-authenticated POST from another origin or without Origin (403), and changes nothing', async () => {
      const sessions = auth.app.get(SessionService);
      const issued = sessions.create(auth.app.get(UsersRepository).create({ email: null, displayName: 'Victim' }).id, {
        deviceId: 'd1',
      });
      const cookie = `sovren_access=${issued.accessToken}`;
      const logout = (headers: Record<string, string>) =>
        call(`${auth.url}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, ...headers } });
      const attempts: Array<Record<string, string>> = [
        { origin: 'https://evil.example' },
        {},
        { 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of attempts) {
        const refused = await logout(headers);
        expect(refused.status).toBe(403);
        expect(refused.body.error?.details).toEqual({ reason: 'cross_site_write' });
      }
      expect(sessions.isLive(issued.sessionId)).toBe(true);
      // A GET needs no Origin; a configured public origin may write.
      expect((await call(`${auth.url}/api/v1/auth/me`, { headers: { cookie } })).status).toBe(200);
      expect((await logout({ origin: 'https://sovren.example.com' })).status).toBe(200);
      expect(sessions.isLive(issued.sessionId)).toBe(false);
    });

    it('lets same-origin cookie writes through (Origin of its own Host, or Sec-Fetch-Site), and bearer ones without Origin', async () => {
      const sessions = auth.app.get(SessionService);
      const users = auth.app.get(UsersRepository);
      const logout = (headers: Record<string, string>) =>
        call(`${auth.url}/api/v1/auth/logout`, { method: 'POST', headers });
      const a = sessions.create(users.create({ email: null, displayName: 'A' }).id, { deviceId: 'd1' });
      expect((await logout({ cookie: `sovren_access=${a.accessToken}`, origin: auth.url })).status).toBe(200);
      const b = sessions.create(users.create({ email: null, displayName: 'B' }).id, { deviceId: 'd1' });
      const sameSite = { cookie: `sovren_access=${b.accessToken}`, 'sec-fetch-site': 'same-origin' };
      expect((await logout(sameSite)).status).toBe(200);
      const c = sessions.create(users.create({ email: null, displayName: 'C' }).id, { deviceId: 'd1' });
      expect((await logout(bearer(c.accessToken))).status).toBe(200);
    });
  });

  describe('route declarations', () => {
    let environment: AuthTestEnvironment;

    beforeAll(async () => {
      environment = await createAuthTestEnvironment();
    });

    afterAll(async () => {
      await environment?.dispose();
    });

    it('refuses to start an app with a guarded route that names no scope and is not public, naming the route', async () => {
      Object.assign(process.env, environment.env);
      const moduleRef = await Test.createTestingModule({ imports: [UndeclaredAppModule] }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      try {
        await expect(app.init()).rejects.toThrow(/UndeclaredController\.open declares no scope/);
      } finally {
        await app.close();
      }
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
