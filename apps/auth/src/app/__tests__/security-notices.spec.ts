// Specification of the security notice mails: delivered through a real local SMTP server, retried when the
// relay is down, and never holding up the request that caused them.
import { bearer, call, dataOf, type LocalSmtpServer, startSmtpServer } from '@sovren/testing';
import { OAuth2Server } from 'oauth2-mock-server';

import { SessionService } from '../sessions/session.service';
import { UsersRepository } from '../users/users.repository';
import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from './support/auth-test-app';
import { Browser, linkWith, loginWith } from './support/browser';
import { freePort } from './support/private-nats.server';

jest.setTimeout(60_000);

describe('security notices by local mail', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let smtp: LocalSmtpServer | undefined;
  let smtpPort: number;
  let google: OAuth2Server;
  const NOTICE_CLAIMS = { sub: 'notice-sub', email: 'notice@example.com', email_verified: true, name: 'Notice' };
  let googleClaims: Record<string, unknown> = NOTICE_CLAIMS;

  beforeAll(async () => {
    google = new OAuth2Server();
    await google.issuer.keys.generate('RS256');
    await google.start(0, '127.0.0.1');
    const googleUrl = google.issuer.url as string;
    google.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => {
      Object.assign(token.payload, googleClaims);
    });
    smtpPort = await freePort();
    const authPort = await freePort();
    environment = await createAuthTestEnvironment({
      SOVREN_AUTH_PUBLIC_URL: `http://127.0.0.1:${authPort}`,
      SOVREN_EGRESS_ALLOWLIST: new URL(googleUrl).host,
      SOVREN_AUTH_GOOGLE_CLIENT_ID: 'google-client',
      SOVREN_AUTH_GOOGLE_CLIENT_SECRET: 'google-secret',
      SOVREN_AUTH_GOOGLE_ISSUER: googleUrl,
      SOVREN_AUTH_GOOGLE_AUTHORIZATION_URL: `${googleUrl}/authorize`,
      SOVREN_AUTH_GOOGLE_TOKEN_URL: `${googleUrl}/token`,
      SOVREN_AUTH_GOOGLE_JWKS_URL: `${googleUrl}/jwks`,
      SOVREN_MAIL_HOST: '127.0.0.1',
      SOVREN_MAIL_PORT: String(smtpPort),
      SOVREN_MAIL_FROM: 'SOVREN <security@sovren.test>',
      SOVREN_MAIL_RETRY_DELAY_MS: '200',
      SOVREN_MAIL_MAX_RETRY_DELAY_MS: '1000',
      SOVREN_MAIL_ATTEMPTS: '20',
    });
    auth = await startAuthApp(environment, authPort);
  });

  afterAll(async () => {
    await auth?.close();
    await smtp?.close();
    if (google?.listening) await google.stop();
    await environment?.dispose();
  });

  it('answers at once while the SMTP relay is down, then delivers the new-key notice once it is back', async () => {
    const users = auth.app.get(UsersRepository);
    const user = users.create({ email: 'owner@example.com', displayName: 'Owner' });
    const session = auth.app.get(SessionService).create(user.id, { deviceId: 'd' });
    const created = await call<{ key: string; prefix: string }>(`${auth.url}/api/v1/auth/api-keys`, {
      method: 'POST',
      headers: bearer(session.accessToken),
      body: { name: 'deploy bot', scopes: ['inference:generate'] },
    });
    expect(created.status).toBe(201);
    // Nothing listens on the SMTP port yet: the first attempts fail and are retried in the background.
    smtp = await startSmtpServer({ port: smtpPort });
    const mail = await smtp.waitFor((m) => m.to.includes('owner@example.com'));
    expect(mail.from).toBe('security@sovren.test');
    expect(mail.raw).toContain('Subject: A new API key was created for your SOVREN account');
    expect(mail.raw).toContain(dataOf(created).prefix);
    expect(mail.raw).toContain('deploy bot');
    expect(mail.raw).not.toContain(dataOf(created).key);
  });

  it('sends a notice for a sign-in from a new device, not for the first sign-in or a known device', async () => {
    const server = smtp as LocalSmtpServer;
    const first = new Browser();
    expect((await loginWith(first, auth.url, 'google')).final.status).toBe(302);
    expect((await loginWith(first, auth.url, 'google')).final.status).toBe(302);
    const otherDevice = new Browser();
    expect((await loginWith(otherDevice, auth.url, 'google')).final.status).toBe(302);
    const mail = await server.waitFor((m) => m.to.includes('notice@example.com'));
    expect(mail.raw).toContain('Subject: New sign-in to your SOVREN account');
    expect(mail.raw).toContain('SovrenTestBrowser/1.0');
    // The new-key mail of the first test and this one: the first sign-in and the known device sent nothing.
    expect(server.received.filter((m) => m.to.includes('notice@example.com'))).toHaveLength(1);
  });

  it('mails the user when a sign-in method is linked to the account, and nothing for a plain login', async () => {
    const server = smtp as LocalSmtpServer;
    const user = auth.app.get(UsersRepository).create({ email: 'linking@example.com', displayName: 'Linking' });
    const session = auth.app.get(SessionService).create(user.id, { deviceId: 'linking-device-0001' });
    googleClaims = { sub: 'linked-sub', email: 'linked@gmail.example', email_verified: true, name: 'Linked' };
    try {
      const browser = new Browser();
      browser.setCookie('sovren_access', session.accessToken);
      browser.setCookie('sovren_device', 'linking-device-0001');
      expect((await linkWith(browser, auth.url, 'google')).final.status).toBe(302);
      const mail = await server.waitFor((m) => m.to.includes('linking@example.com'));
      expect(mail.raw).toContain('Subject: A new sign-in method was linked to your SOVREN account');
      expect(mail.raw).toContain('linked@gmail.example');
      expect(mail.raw).toContain('SovrenTestBrowser/1.0');
      // Signing in with the linked identity afterwards (same device) is a login, not a new link: no mail. The
      // new-key mail sent after it arrives next, behind anything the login would have sent.
      expect((await loginWith(browser, auth.url, 'google')).final.status).toBe(302);
      const created = await call(`${auth.url}/api/v1/auth/api-keys`, {
        method: 'POST',
        headers: bearer(session.accessToken),
        body: { name: 'after link', scopes: ['inference:generate'] },
      });
      expect(created.status).toBe(201);
      await server.waitFor((m) => m.to.includes('linking@example.com') && m.raw.includes('after link'));
      expect(
        server.received
          .filter((m) => m.to.includes('linking@example.com'))
          .map((m) => /Subject: (.*)/.exec(m.raw)?.[1]),
      ).toEqual([
        'A new sign-in method was linked to your SOVREN account',
        'A new API key was created for your SOVREN account',
      ]);
    } finally {
      googleClaims = NOTICE_CLAIMS;
    }
  });
});
