// Specification of OIDC profile claims from UserInfo (OIDC Core 5.4): a spec-conformant provider may put email,
// email_verified and name only in its UserInfo answer when it issues an access token. oauth2-mock-server stands
// in for it, found by discovery, signing id_tokens that carry only `sub`.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { call, dataOf } from '@sovren/testing';

import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';
import { Browser, loginWith } from './support/browser';
import { freePort } from './support/private-nats.server';

jest.setTimeout(60_000);

describe('OIDC profile claims from UserInfo', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let provider: OAuth2Server;
  /** What the provider's UserInfo endpoint answers during the current test. */
  let userInfo: Record<string, unknown> = {};
  /** The Authorization headers UserInfo received, and the access tokens the token endpoint issued. */
  const userInfoAuthorizations: string[] = [];
  const issuedAccessTokens: string[] = [];
  let idTokenSubject = 'uinfo-sub-1';

  beforeAll(async () => {
    provider = new OAuth2Server();
    await provider.issuer.keys.generate('RS256');
    await provider.start(0, '127.0.0.1');
    provider.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
      if (token.payload['nonce'] === undefined) return; // the access token
      // The id_token carries the subject only: no email, email_verified or name.
      for (const claim of ['email', 'email_verified', 'name']) delete token.payload[claim];
      token.payload['sub'] = idTokenSubject;
    });
    provider.service.on('beforeResponse', (response: { body: Record<string, unknown> }) => {
      if (typeof response.body['access_token'] === 'string') issuedAccessTokens.push(response.body['access_token']);
    });
    provider.service.on(
      'beforeUserinfo',
      (response: { body: unknown }, req: { headers: Record<string, string | undefined> }) => {
        userInfoAuthorizations.push(req.headers['authorization'] ?? '');
        response.body = userInfo;
      },
    );
    const issuer = provider.issuer.url as string;
    const authPort = await freePort();
    environment = await createAuthTestEnvironment({
      SOVREN_AUTH_PUBLIC_URL: `http://127.0.0.1:${authPort}`,
      SOVREN_EGRESS_ALLOWLIST: new URL(issuer).host,
      SOVREN_AUTH_OIDC_PROVIDERS: JSON.stringify([
        { id: 'conformant', name: 'Conformant IdP', type: 'oidc', issuer, client_id: 'c-client', client_secret: 'c' },
      ]),
    });
    auth = await startAuthApp(environment, authPort);
  });

  afterAll(async () => {
    await auth?.close();
    if (provider?.listening) await provider.stop();
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

  it('takes email, email_verified and name from UserInfo, read with the access token, when the id_token has only sub', async () => {
    idTokenSubject = 'uinfo-sub-1';
    userInfo = { sub: 'uinfo-sub-1', email: 'Erin@Conformant.example', email_verified: true, name: 'Erin Example' };
    const browser = new Browser();
    const run = await loginWith(browser, auth.url, 'conformant');
    expect(run.final.status).toBe(302);
    const me = await call<{ user: { email: string | null; display_name: string } }>(`${auth.url}/api/v1/auth/me`, {
      headers: { cookie: browser.cookieHeader() },
    });
    expect(dataOf(me).user).toMatchObject({ email: 'erin@conformant.example', display_name: 'Erin Example' });
    expect(userInfoAuthorizations.at(-1)).toBe(`Bearer ${issuedAccessTokens.at(-1)}`);
  });

  it('keeps no email UserInfo does not say is verified', async () => {
    idTokenSubject = 'uinfo-sub-2';
    userInfo = { sub: 'uinfo-sub-2', email: 'frank@conformant.example', email_verified: false, name: 'Frank' };
    const browser = new Browser();
    expect((await loginWith(browser, auth.url, 'conformant')).final.status).toBe(302);
    const me = await call<{ user: { email: string | null; display_name: string } }>(`${auth.url}/api/v1/auth/me`, {
      headers: { cookie: browser.cookieHeader() },
    });
    expect(dataOf(me).user).toMatchObject({ email: null, display_name: 'Frank' });
  });

  it('refuses the login when UserInfo speaks about another subject than the id_token', async () => {
    const before = sessionCount();
    idTokenSubject = 'uinfo-sub-3';
    userInfo = { sub: 'someone-else', email: 'victim@conformant.example', email_verified: true, name: 'Victim' };
    const { final } = await loginWith(new Browser(), auth.url, 'conformant');
    expect(final.status).toBe(401);
    expect(final.body).toContain('PROFILE_INVALID');
    expect(sessionCount()).toBe(before);
  });
});
