// Specification of provider logins, driven like a browser against real local servers: oauth2-mock-server
// stands in for Google, Microsoft and two enterprise OIDC issuers; a local server speaks GitHub's protocol.
// Every refusal must create no session. At the end the providers are stopped and everything keeps working.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { bearer, call, dataOf } from '@sovren/testing';

import { UsersRepository } from '../users/users.repository';
import { freePort } from './support/private-nats.server';
import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';
import { Browser, linkWith, loginWith } from './support/browser';
import { startGitHubServer, type GitHubTestServer } from './support/github-protocol.server';

jest.setTimeout(120_000);

type TokenPayload = Record<string, unknown>;
type Tweak = (payload: TokenPayload) => void;

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

interface MockProvider {
  server: OAuth2Server;
  url: string;
  hostPort: string;
  /** Applied to every token this provider signs during the current test. */
  tweak: Tweak;
  /** Applied to the token endpoint's JSON answer during the current test. */
  tweakResponse: (body: Record<string, unknown>) => void;
}

async function startMockProvider(base: Tweak = () => undefined): Promise<MockProvider> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  const url = server.issuer.url as string;
  const provider: MockProvider = {
    server,
    url,
    hostPort: new URL(url).host,
    tweak: () => undefined,
    tweakResponse: () => undefined,
  };
  server.service.on('beforeTokenSigning', (token: { payload: TokenPayload }) => {
    base(token.payload);
    provider.tweak(token.payload);
  });
  server.service.on('beforeResponse', (response: { body: Record<string, unknown> }) =>
    provider.tweakResponse(response.body),
  );
  return provider;
}

describe('provider login', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let google: MockProvider;
  let microsoft: MockProvider;
  let corpA: MockProvider;
  let corpB: MockProvider;
  let github: GitHubTestServer;

  const userClaims =
    (sub: string, email: string, verified = true): Tweak =>
    (payload) => {
      if (payload['nonce'] === undefined && payload['aud'] === undefined) return;
      Object.assign(payload, { sub, email, email_verified: verified, name: `User ${sub}` });
    };

  beforeAll(async () => {
    google = await startMockProvider();
    microsoft = await startMockProvider((payload) => {
      payload['tid'] = TENANT;
      payload['iss'] = `${microsoft.url}/${TENANT}/v2.0`;
    });
    corpA = await startMockProvider();
    corpB = await startMockProvider();
    github = await startGitHubServer('gh-client', 'gh-secret', {
      id: 4242,
      login: 'octo',
      name: 'Octo Cat',
      emails: [
        { email: 'unverified@octo.example', primary: false, verified: false },
        { email: 'octo@octo.example', primary: true, verified: true },
      ],
    });
    const enterprise = [
      {
        id: 'corp-a',
        name: 'Corp A SSO',
        type: 'oidc',
        issuer: corpA.url,
        client_id: 'corp-a-client',
        client_secret: 'a-secret',
      },
      {
        id: 'corp-b',
        name: 'Corp B SSO',
        type: 'oidc',
        issuer: corpB.url,
        authorization_endpoint: `${corpB.url}/authorize`,
        token_endpoint: `${corpB.url}/token`,
        jwks_uri: `${corpB.url}/jwks`,
        client_id: 'corp-b-client',
        client_secret: 'b-secret',
      },
      {
        // A plain OAuth 2.0 server (no id_token): identity from its user-info endpoint.
        id: 'corp-oauth',
        name: 'Corp OAuth',
        type: 'oauth2',
        authorization_endpoint: `${github.url}/login/oauth/authorize`,
        token_endpoint: `${github.url}/login/oauth/access_token`,
        userinfo_endpoint: `${github.url}/user`,
        client_id: 'gh-client',
        client_secret: 'gh-secret',
      },
      {
        // Its token endpoint names a host that is not on the egress allowlist (the same server, as 127.0.0.1).
        id: 'corp-offlist',
        name: 'Corp Off-list',
        type: 'oidc',
        issuer: corpA.url,
        authorization_endpoint: `${corpA.url}/authorize`,
        token_endpoint: `http://127.0.0.1:${new URL(corpA.url).port}/token`,
        jwks_uri: `${corpA.url}/jwks`,
        client_id: 'corp-a-client',
        client_secret: 'a-secret',
      },
    ];
    const authPort = await freePort();
    environment = await createAuthTestEnvironment({
      SOVREN_AUTH_PUBLIC_URL: `http://127.0.0.1:${authPort}`,
      SOVREN_EGRESS_ALLOWLIST: [google, microsoft, corpA, corpB, github].map((p) => p.hostPort).join(','),
      SOVREN_AUTH_GOOGLE_CLIENT_ID: 'google-client',
      SOVREN_AUTH_GOOGLE_CLIENT_SECRET: 'google-secret',
      SOVREN_AUTH_GOOGLE_ISSUER: google.url,
      SOVREN_AUTH_GOOGLE_AUTHORIZATION_URL: `${google.url}/authorize`,
      SOVREN_AUTH_GOOGLE_TOKEN_URL: `${google.url}/token`,
      SOVREN_AUTH_GOOGLE_JWKS_URL: `${google.url}/jwks`,
      SOVREN_AUTH_MICROSOFT_CLIENT_ID: 'ms-client',
      SOVREN_AUTH_MICROSOFT_CLIENT_SECRET: 'ms-secret',
      SOVREN_AUTH_MICROSOFT_TENANT: TENANT,
      SOVREN_AUTH_MICROSOFT_AUTHORIZATION_URL: `${microsoft.url}/authorize?tenant={tenant}`,
      SOVREN_AUTH_MICROSOFT_TOKEN_URL: `${microsoft.url}/token?tenant={tenant}`,
      SOVREN_AUTH_MICROSOFT_JWKS_URL: `${microsoft.url}/jwks`,
      SOVREN_AUTH_MICROSOFT_ISSUER_TEMPLATE: `${microsoft.url}/{tenantid}/v2.0`,
      SOVREN_AUTH_GITHUB_CLIENT_ID: 'gh-client',
      SOVREN_AUTH_GITHUB_CLIENT_SECRET: 'gh-secret',
      SOVREN_AUTH_GITHUB_AUTHORIZATION_URL: `${github.url}/login/oauth/authorize`,
      SOVREN_AUTH_GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
      SOVREN_AUTH_GITHUB_API_URL: github.url,
      SOVREN_AUTH_OIDC_PROVIDERS: JSON.stringify(enterprise),
      SOVREN_AUTH_RATE_ANONYMOUS_PER_HOUR: '10000',
    });
    auth = await startAuthApp(environment, authPort);
  });

  afterEach(() => {
    for (const provider of [google, microsoft, corpA, corpB]) {
      provider.tweak = () => undefined;
      provider.tweakResponse = () => undefined;
    }
  });

  afterAll(async () => {
    await auth?.close();
    for (const provider of [google, microsoft, corpA, corpB])
      if (provider?.server.listening) await provider.server.stop();
    await github?.close();
    await environment?.dispose();
  });

  function sessionCount(): number {
    const db = new Database(join(environment.root, 'data', 'api_auth.db'), { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  async function me(browser: Browser) {
    return call<{
      user: { id: string; email: string | null };
      identities: Array<{ provider: string; email: string | null }>;
    }>(`${auth.url}/api/v1/auth/me`, { headers: { cookie: browser.cookieHeader() } });
  }

  it('lists only the configured providers', async () => {
    const answer = await call<Array<{ id: string; login_url: string }>>(`${auth.url}/api/v1/auth/providers`);
    expect(answer.body.data?.map((p) => p.id)).toEqual([
      'google',
      'microsoft',
      'github',
      'corp-a',
      'corp-b',
      'corp-oauth',
      'corp-offlist',
    ]);
    expect(answer.body.data?.[0].login_url).toBe('/api/v1/auth/login/google');
  });

  it('answers 404 for a provider that is not configured', async () => {
    const answer = await call(`${auth.url}/api/v1/auth/login/facebook`);
    expect(answer.status).toBe(404);
    expect(answer.body.error?.details).toMatchObject({ reason: 'UNKNOWN_PROVIDER' });
  });

  it('signs in with Google (OIDC, state + PKCE + nonce) and sets the session cookies', async () => {
    google.tweak = userClaims('google-sub-1', 'Alice@Example.com');
    const browser = new Browser();
    const run = await loginWith(browser, auth.url, 'google', { returnTo: '/dashboard' });
    const authorize = new URL(run.authorizeUrl);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(run.final.status).toBe(302);
    expect(run.final.location).toBe(`${auth.url}/dashboard`);
    expect(browser.cookie('sovren_access')).toMatch(/^sat_/);
    expect(browser.cookie('sovren_refresh')).toMatch(/^srt_/);
    const answer = await me(browser);
    expect(answer.status).toBe(200);
    expect(answer.body.data?.user.email).toBe('alice@example.com');
    expect(answer.body.data?.identities).toEqual([{ provider: 'google', email: 'alice@example.com' }]);
  });

  it('signs in with Microsoft, validating the id_token against the tenant issuer', async () => {
    microsoft.tweak = userClaims('ms-sub-1', 'bob@contoso.example');
    const browser = new Browser();
    const run = await loginWith(browser, auth.url, 'microsoft');
    expect(run.final.status).toBe(302);
    expect((await me(browser)).body.data?.identities).toEqual([
      { provider: 'microsoft', email: 'bob@contoso.example' },
    ]);
  });

  it('refuses a Microsoft id_token from another tenant, and one whose issuer does not match its tenant', async () => {
    const before = sessionCount();
    microsoft.tweak = (payload) => {
      userClaims('ms-sub-2', 'eve@other.example')(payload);
      payload['tid'] = '00000000-0000-0000-0000-000000000001';
      payload['iss'] = `${microsoft.url}/00000000-0000-0000-0000-000000000001/v2.0`;
    };
    const otherTenant = await loginWith(new Browser(), auth.url, 'microsoft');
    expect(otherTenant.final.status).toBe(401);
    expect(otherTenant.final.body).toContain('tenant');
    microsoft.tweak = (payload) => {
      userClaims('ms-sub-2', 'eve@other.example')(payload);
      payload['iss'] = `${microsoft.url}/common/v2.0`;
    };
    const wrongIssuer = await loginWith(new Browser(), auth.url, 'microsoft');
    expect(wrongIssuer.final.status).toBe(401);
    expect(sessionCount()).toBe(before);
  });

  it('signs in with GitHub and keeps only the primary verified email', async () => {
    const browser = new Browser();
    const run = await loginWith(browser, auth.url, 'github');
    expect(run.final.status).toBe(302);
    const answer = await me(browser);
    expect(answer.body.data?.user.email).toBe('octo@octo.example');
    expect(answer.body.data?.identities).toEqual([{ provider: 'github', email: 'octo@octo.example' }]);
  });

  it('signs in with two enterprise issuers: one by discovery, one by explicit endpoints', async () => {
    corpA.tweak = userClaims('corp-a-7', 'carol@corp-a.example');
    corpB.tweak = userClaims('corp-b-9', 'dave@corp-b.example');
    for (const provider of ['corp-a', 'corp-b']) {
      const browser = new Browser();
      const run = await loginWith(browser, auth.url, provider);
      expect(run.final.status).toBe(302);
      expect((await me(browser)).body.data?.identities[0].provider).toBe(provider);
    }
  });

  it('signs in with a custom OAuth 2.0 server through its user-info endpoint', async () => {
    const browser = new Browser();
    const run = await loginWith(browser, auth.url, 'corp-oauth');
    expect(new URL(run.authorizeUrl).searchParams.get('nonce')).toBeNull();
    expect(run.final.status).toBe(302);
    // The server's user info carries no verified email, so none is kept.
    expect((await me(browser)).body.data?.identities).toEqual([{ provider: 'corp-oauth', email: null }]);
  });

  it('accepts the extra parameters providers add to the callback', async () => {
    google.tweak = userClaims('google-sub-extras', 'extras@example.com');
    const browser = new Browser();
    const run = await loginWith(browser, auth.url, 'google', {
      tamperCallback: (url) => {
        url.searchParams.set('authuser', '0');
        url.searchParams.set('prompt', 'consent');
        url.searchParams.set('hd', 'example.com');
        url.searchParams.set('scope', 'openid email profile');
      },
    });
    expect(run.final.status).toBe(302);
    expect((await me(browser)).body.data?.user.email).toBe('extras@example.com');
  });

  it('keeps no email the provider did not verify', async () => {
    google.tweak = userClaims('google-sub-unverified', 'mallory@example.com', false);
    const browser = new Browser();
    await loginWith(browser, auth.url, 'google');
    expect((await me(browser)).body.data?.user.email).toBeNull();
  });

  it("signs in as the identity's own user when a provider login happens while signed in, linking nothing", async () => {
    google.tweak = userClaims('google-sub-signed-in', 'signed-in@example.com');
    const browser = new Browser();
    await loginWith(browser, auth.url, 'google');
    const signedIn = dataOf(await me(browser)).user.id;
    corpA.tweak = userClaims('corp-a-someone', 'someone@corp-a.example');
    const run = await loginWith(browser, auth.url, 'corp-a');
    expect(run.final.status).toBe(302);
    const after = dataOf(await me(browser));
    expect(after.user.id).not.toBe(signedIn);
    expect(after.identities).toEqual([{ provider: 'corp-a', email: 'someone@corp-a.example' }]);
    expect(
      auth.app
        .get(UsersRepository)
        .identitiesOf(signedIn)
        .map((i) => i.provider),
    ).toEqual(['google']);
  });

  it('links a provider to the signed-in user only through its explicit link request', async () => {
    google.tweak = userClaims('google-sub-link', 'linker@example.com');
    const browser = new Browser();
    await loginWith(browser, auth.url, 'google');
    const userId = dataOf(await me(browser)).user.id;
    const sessionsBefore = sessionCount();
    corpA.tweak = userClaims('corp-a-link', 'linker@corp-a.example');
    const run = await linkWith(browser, auth.url, 'corp-a', { returnTo: '/settings/sign-in' });
    expect(run.final.status).toBe(302);
    expect(run.final.location).toBe(`${auth.url}/settings/sign-in`);
    expect(sessionCount()).toBe(sessionsBefore); // the link opened no session
    const after = dataOf(await me(browser));
    expect(after.user.id).toBe(userId);
    expect(after.identities.map((i) => i.provider)).toEqual(['google', 'corp-a']);
    // Signing in later with either identity lands on the same user.
    const fresh = new Browser();
    await loginWith(fresh, auth.url, 'corp-a');
    expect(dataOf(await me(fresh)).user.id).toBe(userId);
  });

  it('refuses a link request without a session, from an API key, and for an identity another user has', async () => {
    const anonymous = await new Browser().post(`${auth.url}/api/v1/auth/identities/link/corp-a`);
    expect(anonymous.status).toBe(401);

    google.tweak = userClaims('google-sub-link-refusals', 'refusals@example.com');
    const browser = new Browser();
    await loginWith(browser, auth.url, 'google');
    const access = decodeURIComponent(browser.cookie('sovren_access') ?? '');
    const created = await call<{ key: string }>(`${auth.url}/api/v1/auth/api-keys`, {
      method: 'POST',
      headers: bearer(access),
      body: { name: 'linker', scopes: ['auth:sessions'] },
    });
    const byKey = await call(`${auth.url}/api/v1/auth/identities/link/corp-a`, {
      method: 'POST',
      headers: { 'x-api-key': dataOf(created).key },
    });
    expect(byKey.status).toBe(403);
    expect(byKey.body.error?.details).toMatchObject({ reason: 'session_required' });

    // corp-a-someone belongs to the user the first test of this group created.
    corpA.tweak = userClaims('corp-a-someone', 'someone@corp-a.example');
    const taken = await linkWith(browser, auth.url, 'corp-a');
    expect(taken.final.status).toBe(409);
    expect(taken.final.body).toContain('IDENTITY_LINKED_ELSEWHERE');
    expect(dataOf(await me(browser)).identities.map((i) => i.provider)).toEqual(['google']);
  });

  describe('refusals (no session is created)', () => {
    let before: number;
    beforeEach(() => {
      before = sessionCount();
      google.tweak = userClaims('google-sub-attacked', 'victim@example.com');
    });
    afterEach(() => {
      expect(sessionCount()).toBe(before);
    });

    async function refusedWith(
      status: number,
      reason: string,
      run: Promise<{ final: { status: number; body: string } }>,
    ) {
      const { final } = await run;
      expect(final.status).toBe(status);
      const body = JSON.parse(final.body) as { success: boolean; error: { details: { reason: string } } };
      expect(body.success).toBe(false);
      expect(body.error.details.reason).toBe(reason);
    }

    it('refuses a callback without state', async () => {
      await refusedWith(
        400,
        'STATE_MISSING',
        loginWith(new Browser(), auth.url, 'google', { tamperCallback: (url) => url.searchParams.delete('state') }),
      );
    });

    it('refuses a callback with a wrong state', async () => {
      await refusedWith(
        400,
        'STATE_INVALID',
        loginWith(new Browser(), auth.url, 'google', {
          tamperCallback: (url) => url.searchParams.set('state', 'x'.repeat(43)),
        }),
      );
    });

    it('refuses a state that was issued to another browser (login CSRF)', async () => {
      const victim = new Browser();
      const attacker = new Browser();
      const start = await attacker.get(`${auth.url}/api/v1/auth/login/google`);
      const atProvider = await attacker.get(start.location as string);
      const final = await victim.get(atProvider.location as string);
      expect(final.status).toBe(400);
      expect(final.body).toContain('STATE_INVALID');
    });

    it('refuses when the PKCE verifier does not match the challenge the provider saw', async () => {
      await refusedWith(
        401,
        'CODE_EXCHANGE_FAILED',
        loginWith(new Browser(), auth.url, 'google', {
          tamperAuthorize: (url) => url.searchParams.set('code_challenge', 'A'.repeat(43)),
        }),
      );
    });

    it('refuses an id_token with a bad signature', async () => {
      google.tweakResponse = (body) => {
        const [header, payload, signature] = String(body['id_token']).split('.');
        const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
        body['id_token'] = [header, payload, flipped].join('.');
      };
      await refusedWith(401, 'ID_TOKEN_INVALID', loginWith(new Browser(), auth.url, 'google'));
    });

    it('refuses an id_token for another audience', async () => {
      google.tweak = (payload) => {
        userClaims('google-sub-attacked', 'victim@example.com')(payload);
        payload['aud'] = 'someone-else';
      };
      await refusedWith(401, 'ID_TOKEN_INVALID', loginWith(new Browser(), auth.url, 'google'));
    });

    it('refuses an id_token from another issuer', async () => {
      google.tweak = (payload) => {
        userClaims('google-sub-attacked', 'victim@example.com')(payload);
        payload['iss'] = 'https://issuer.invalid';
      };
      await refusedWith(401, 'ID_TOKEN_INVALID', loginWith(new Browser(), auth.url, 'google'));
    });

    it('refuses an expired id_token', async () => {
      google.tweak = (payload) => {
        userClaims('google-sub-attacked', 'victim@example.com')(payload);
        const now = Math.floor(Date.now() / 1000);
        payload['iat'] = now - 7200;
        payload['exp'] = now - 3600;
      };
      await refusedWith(401, 'ID_TOKEN_INVALID', loginWith(new Browser(), auth.url, 'google'));
    });

    it('refuses an id_token with a wrong nonce', async () => {
      google.tweak = (payload) => {
        userClaims('google-sub-attacked', 'victim@example.com')(payload);
        if (payload['nonce'] !== undefined) payload['nonce'] = 'replayed-nonce';
      };
      await refusedWith(401, 'ID_TOKEN_INVALID', loginWith(new Browser(), auth.url, 'google'));
    });

    it('refuses when the user denied consent', async () => {
      await refusedWith(
        401,
        'CONSENT_DENIED',
        loginWith(new Browser(), auth.url, 'google', {
          tamperCallback: (url) => {
            url.searchParams.delete('code');
            url.searchParams.set('error', 'access_denied');
          },
        }),
      );
    });

    it('refuses a code GitHub does not accept (GitHub answers that error with 200)', async () => {
      const { final } = await loginWith(new Browser(), auth.url, 'github', {
        tamperCallback: (url) => url.searchParams.set('code', 'f00d'),
      });
      expect(final.status).toBe(401);
      expect(final.body).toContain('CODE_EXCHANGE_FAILED');
      expect(final.body).toContain('bad_verification_code');
    });

    it('exchanges codes only through the egress allowlist', async () => {
      corpA.tweak = userClaims('corp-a-offlist', 'offlist@corp-a.example');
      await refusedWith(502, 'PROVIDER_UNREACHABLE', loginWith(new Browser(), auth.url, 'corp-offlist'));
      const metrics = await (await fetch(`${auth.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`^sovren_egress_refused_total\\{[^}]*host="127.0.0.1:${new URL(corpA.url).port}"[^}]*} 1$`, 'm'),
      );
    });

    it('refuses a replayed authorization code', async () => {
      const browser = new Browser();
      const run = await loginWith(browser, auth.url, 'github');
      expect(run.final.status).toBe(302);
      before = sessionCount();
      const replay = await browser.get(run.callbackUrl);
      expect(replay.status).toBe(400);
      expect(replay.body).toContain('STATE_INVALID');
    });
  });

  it('counts logins by provider and result', async () => {
    const metrics = await (await fetch(`${auth.url}/metrics`)).text();
    expect(metrics).toMatch(/^sovren_auth_logins_total\{[^}]*provider="google",result="success"[^}]*\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^sovren_auth_logins_total\{[^}]*provider="google",result="id_token_invalid"[^}]*\} 5$/m);
    expect(metrics).toMatch(/^sovren_auth_logins_total\{[^}]*provider="google",result="state_missing"[^}]*\} 1$/m);
  });

  it('keeps sessions, refresh and API keys working after every provider is stopped', async () => {
    google.tweak = userClaims('google-sub-offline', 'offline@example.com');
    const browser = new Browser();
    await loginWith(browser, auth.url, 'google');
    for (const provider of [google, microsoft, corpA, corpB]) await provider.server.stop();
    await github.close();

    expect((await me(browser)).status).toBe(200);
    const refreshed = await call(`${auth.url}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { cookie: `sovren_refresh=${browser.cookie('sovren_refresh')}`, origin: auth.url },
    });
    expect(refreshed.status).toBe(200);
    const accessCookie = refreshed.cookies.find((c) => c.startsWith('sovren_access=')) ?? '';
    const access = decodeURIComponent(accessCookie.split(';')[0].slice('sovren_access='.length));
    const created = await call<{ key: string }>(`${auth.url}/api/v1/auth/api-keys`, {
      method: 'POST',
      headers: bearer(access),
      body: { name: 'offline', scopes: ['auth:api_keys'] },
    });
    expect(created.status).toBe(201);
    expect(
      (await call(`${auth.url}/api/v1/auth/api-keys`, { headers: { 'x-api-key': dataOf(created).key } })).status,
    ).toBe(200);
  });
});
