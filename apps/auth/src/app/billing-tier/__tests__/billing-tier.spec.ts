// Specification of how auth applies billing's tier changes, observed through auth.validate: a downgraded owner's
// premium API key answers `authenticated`, and `restored` gives premium back to that key only. A premium key created
// through auth's HTTP API while the owner is downgraded is created as `authenticated` and restored with the others.
// Tier changes travel through JetStream: one made while auth is stopped holds once it is back, and at start-up auth
// takes every owner's standing from billing (`billing.standings`, answered here as billing does).
import {
  AUTH_VALIDATE,
  AuthValidateReplyV1,
  BILLING_STANDINGS_QUERY,
  BILLING_TIER_CHANGED,
  BillingStandingsReplyV1,
  BillingTierChangedV1,
  NatsClient,
  parseAuthValidateReplyV1,
} from '@sovren/messaging';
import { bearer, call, dataOf, eventually } from '@sovren/testing';

import { ApiKeyService } from '../../api-keys/api-key.service';
import { SessionService } from '../../sessions/session.service';
import { AuthDatabases } from '../../storage/auth-databases';
import { UsersRepository } from '../../users/users.repository';
import {
  createAuthTestEnvironment,
  startAuthApp,
  type AuthTestEnvironment,
  type RunningApp,
} from '../../__tests__/support/auth-test-app';

jest.setTimeout(60_000);

describe('billing tier changes in auth', () => {
  let environment: AuthTestEnvironment;
  let auth: RunningApp;
  let nats: NatsClient;

  beforeAll(async () => {
    environment = await createAuthTestEnvironment();
    auth = await startAuthApp(environment);
    nats = auth.app.get(NatsClient);
  });

  afterAll(async () => {
    await auth?.close();
    await environment?.dispose();
  });

  function validate(key: string): Promise<AuthValidateReplyV1> {
    return nats.request(
      AUTH_VALIDATE,
      { v: 1, credential: key, clientIp: '127.0.0.1', routeClass: 'billing' },
      { parse: parseAuthValidateReplyV1 },
    );
  }

  async function tierBecomes(key: string, tier: string): Promise<void> {
    let seen = '';
    await eventually(`the tier to become ${tier}`, async () => (seen = (await validate(key)).tier) === tier, {
      timeoutMs: 5_000,
      intervalMs: 50,
      detail: () => `tier stayed ${seen}`,
    });
  }

  function publish(ownerId: string, standing: BillingTierChangedV1['standing']): void {
    nats.publish<BillingTierChangedV1>(BILLING_TIER_CHANGED, {
      v: 1,
      ownerId,
      standing,
      reason: 'test',
      changedAt: new Date().toISOString(),
    });
  }

  it("serves a downgraded owner's premium key as authenticated until billing restores it", async () => {
    const users = auth.app.get(UsersRepository);
    const keys = auth.app.get(ApiKeyService);
    const owner = users.create({ email: null, displayName: 'Payer' });
    const other = users.create({ email: null, displayName: 'Someone else' });
    const admin = { userId: owner.id, role: 'admin' as const };
    const premium = keys.create(admin, {
      name: 'premium',
      scopes: ['inference:generate'],
      tier: 'premium',
      userId: owner.id,
    });
    const basic = keys.create(admin, { name: 'basic', scopes: ['inference:generate'], userId: owner.id });
    const othersKey = keys.create(
      { userId: other.id, role: 'admin' },
      { name: 'p', scopes: [], tier: 'premium', userId: other.id },
    );
    expect((await validate(premium.key)).tier).toBe('premium');

    publish(owner.id, 'downgraded');
    await tierBecomes(premium.key, 'authenticated');
    const downgraded = await validate(premium.key);
    expect(downgraded.result).toBe('ok');
    expect(downgraded.rateLimit.limit).toBe(1_000);
    expect((await validate(basic.key)).tier).toBe('authenticated');
    expect((await validate(othersKey.key)).tier).toBe('premium');

    // Auth remembers the lowered key in its own api_auth.db, next to the key itself.
    const remembered = () =>
      auth.app
        .get(AuthDatabases)
        .handle('api_auth')
        .prepare('SELECT key_id FROM billing_downgraded_api_keys WHERE owner_id = ?')
        .all(owner.id);
    expect(remembered()).toEqual([{ key_id: premium.id }]);

    // A second premium key revoked while downgraded is not brought back by `restored`.
    const revokedLater = keys.create(admin, { name: 'premium 2', scopes: [], tier: 'premium', userId: owner.id });
    publish(owner.id, 'downgraded');
    await tierBecomes(revokedLater.key, 'authenticated');
    keys.revoke(admin, revokedLater.id);

    // A duplicate downgrade changes nothing; restoring gives premium back to the key that had it, and only to it.
    publish(owner.id, 'downgraded');
    publish(owner.id, 'restored');
    await tierBecomes(premium.key, 'premium');
    expect((await validate(basic.key)).tier).toBe('authenticated');
    expect((await validate(revokedLater.key)).result).not.toBe('ok');
    expect(remembered()).toEqual([]);
  });

  it('creates a premium key for a downgraded owner as authenticated, and restores it to premium with the others', async () => {
    const users = auth.app.get(UsersRepository);
    const sessions = auth.app.get(SessionService);
    const db = auth.app.get(AuthDatabases).handle('api_auth');
    const owner = users.create({ email: null, displayName: 'Late payer' });
    const admin = users.create({ email: null, displayName: 'Operator', role: 'admin' });
    const adminSession = sessions.create(admin.id, { deviceId: 'billing-tier-tests' });
    const createPremium = (name: string) =>
      call<{ id: string; key: string; tier: string }>(`${auth.url}/api/v1/auth/api-keys`, {
        method: 'POST',
        headers: bearer(adminSession.accessToken),
        body: { name, scopes: ['inference:generate'], tier: 'premium', user_id: owner.id },
      });

    // The owner has no premium key when billing downgrades it: only the owner itself can be remembered.
    publish(owner.id, 'downgraded');
    const ownerDowngraded = () =>
      db.prepare('SELECT 1 FROM billing_downgraded_owners WHERE owner_id = ?').get(owner.id) !== undefined;
    await eventually('the owner to be remembered as downgraded', ownerDowngraded, { timeoutMs: 5_000, intervalMs: 20 });

    const created = await createPremium('bought while downgraded');
    expect(created.status).toBe(201);
    expect(dataOf(created).tier).toBe('authenticated');
    const downgraded = await validate(dataOf(created).key);
    expect({ result: downgraded.result, tier: downgraded.tier, limit: downgraded.rateLimit.limit }).toEqual({
      result: 'ok',
      tier: 'authenticated',
      limit: 1_000,
    });
    const listed = await call<Array<{ id: string; tier: string }>>(
      `${auth.url}/api/v1/auth/api-keys?user_id=${owner.id}`,
      { headers: bearer(adminSession.accessToken) },
    );
    expect(dataOf(listed)).toEqual([expect.objectContaining({ id: dataOf(created).id, tier: 'authenticated' })]);

    publish(owner.id, 'restored');
    await tierBecomes(dataOf(created).key, 'premium');
    expect(ownerDowngraded()).toBe(false);
    // Once restored, a new premium key is premium at once.
    const afterRestore = await createPremium('bought after paying');
    expect(dataOf(afterRestore).tier).toBe('premium');
    expect((await validate(dataOf(afterRestore).key)).tier).toBe('premium');
  });

  describe('while auth is stopped', () => {
    let peer: NatsClient;

    beforeAll(async () => {
      peer = new NatsClient({ servers: environment.nats.url, name: 'billing-tier-test-peer' });
      await peer.connect();
    });

    afterAll(async () => {
      await peer?.drain();
    });

    async function restartAuth(): Promise<void> {
      await auth.close();
      auth = await startAuthApp(environment);
      nats = auth.app.get(NatsClient);
    }

    it('applies a downgrade billing published while auth was stopped once auth is back', async () => {
      const users = auth.app.get(UsersRepository);
      const keys = auth.app.get(ApiKeyService);
      const owner = users.create({ email: null, displayName: 'Downgraded while auth was down' });
      const premium = keys.create(
        { userId: owner.id, role: 'admin' },
        { name: 'premium', scopes: ['inference:generate'], tier: 'premium', userId: owner.id },
      );
      expect((await validate(premium.key)).tier).toBe('premium');

      await auth.close();
      // What billing does: publish to the BILLING_TIER stream and wait for its acknowledgement.
      await peer.publishToStream<BillingTierChangedV1>(BILLING_TIER_CHANGED, {
        v: 1,
        ownerId: owner.id,
        standing: 'downgraded',
        reason: 'test: payment failed while auth was stopped',
        changedAt: new Date().toISOString(),
      });
      auth = await startAuthApp(environment);
      nats = auth.app.get(NatsClient);

      await tierBecomes(premium.key, 'authenticated');
      // It holds: nothing restores it on a later restart either.
      await restartAuth();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await validate(premium.key)).tier).toBe('authenticated');
    });

    it("takes every owner's standing from billing at start-up, applying the changes it never heard of", async () => {
      const users = auth.app.get(UsersRepository);
      const keys = auth.app.get(ApiKeyService);
      const missedDowngrade = users.create({ email: null, displayName: 'Downgraded, announcement lost' });
      const missedRestore = users.create({ email: null, displayName: 'Restored, announcement lost' });
      const key = (ownerId: string) =>
        keys.create(
          { userId: ownerId, role: 'admin' },
          { name: 'premium', scopes: ['inference:generate'], tier: 'premium', userId: ownerId },
        );
      const downgradedKey = key(missedDowngrade.id);
      const restoredKey = key(missedRestore.id);
      publish(missedRestore.id, 'downgraded');
      await tierBecomes(restoredKey.key, 'authenticated');

      // Billing's standings now: the first owner downgraded, the second restored; neither change reached auth.
      const billing = peer.respond<unknown, BillingStandingsReplyV1>(BILLING_STANDINGS_QUERY, () => ({
        v: 1,
        downgraded: [missedDowngrade.id],
        asOf: new Date().toISOString(),
      }));
      await peer.rawConnection()?.flush();
      try {
        await restartAuth();
        await tierBecomes(downgradedKey.key, 'authenticated');
        await tierBecomes(restoredKey.key, 'premium');
      } finally {
        billing.unsubscribe();
      }
    });
  });
});
