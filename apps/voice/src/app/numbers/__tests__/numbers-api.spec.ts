// Specification of /api/v1/voice/numbers against the real voice app (PostgreSQL, NATS, SQLite) and the Skyetel
// stand-in over real HTTP through the egress client: sync into phone_numbers.db, search, order, release, routing a
// number to an application (an inbound SIPp call then reaches it), and the 4xx answers for bad input.
import { SkyetelStandIn } from '@sovren/skyetel/testing';
import { eventually } from '@sovren/testing';

import { startVoiceTestEnvironment, type VoiceTestEnvironment } from '../../__tests__/support/voice-test-environment';

jest.setTimeout(120_000);

describe('voice numbers API over the Skyetel stand-in', () => {
  let skyetel: SkyetelStandIn;
  let env: VoiceTestEnvironment;
  let admin: { credential: string };

  beforeAll(async () => {
    skyetel = await SkyetelStandIn.start({ sid: 'voice-sid', secret: 'voice-secret' });
    env = await startVoiceTestEnvironment({
      SOVREN_SKYETEL_API_URL: skyetel.url,
      SOVREN_SKYETEL_SID: skyetel.sid,
      SOVREN_SKYETEL_SECRET: skyetel.secret,
      SOVREN_EGRESS_ALLOWLIST: skyetel.hostPort,
    });
    admin = env.auth.session({ role: 'admin', scopes: ['voice:numbers', 'voice:calls'] });
  });

  afterAll(async () => {
    await env?.dispose();
    await skyetel?.stop();
  });

  async function api(
    method: string,
    path: string,
    body?: unknown,
    credential = env.apiKey,
  ): Promise<{ status: number; body: any }> {
    const response = await fetch(`${env.voice.url}/api/v1/voice/numbers${path}`, {
      method,
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  it('syncs our Skyetel numbers into phone_numbers.db and lists them; numbers gone at Skyetel are released', async () => {
    const keep = skyetel.addOwnedNumber('6505550100');
    const drop = skyetel.addOwnedNumber('6505550101');
    // Synced numbers are nobody's yet: an admin sees them, a user does not.
    const synced = await api('GET', '?sync=true', undefined, admin.credential);
    expect(synced.status).toBe(200);
    expect(synced.body.data.numbers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ number: '+16505550100', carrierId: String(keep), status: 'active' }),
        expect.objectContaining({ number: '+16505550101', carrierId: String(drop) }),
      ]),
    );
    skyetel.numbers.delete(drop);
    const again = await api('GET', '?sync=true', undefined, admin.credential);
    expect(again.body.data.numbers.map((row: { number: string }) => row.number)).toContain('+16505550100');
    expect(again.body.data.numbers.map((row: { number: string }) => row.number)).not.toContain('+16505550101');
    const listed = await api('GET', '', undefined, admin.credential);
    expect(listed.body.data.numbers).toEqual(again.body.data.numbers);
    const user = await api('GET', '');
    expect(user.body.data.numbers.map((row: { number: string }) => row.number)).not.toContain('+16505550100');
  });

  it("lets only an admin take a synced number that is nobody's: a user gets 404 and changes nothing", async () => {
    skyetel.addOwnedNumber('6505550177');
    expect((await api('GET', '?sync=true', undefined, admin.credential)).status).toBe(200);
    const applicationId = env.seedNumber('+15551237777', { mediaApp: 'echo' });
    const claim = await api('PUT', '/%2B16505550177/application', { application_id: applicationId });
    expect(claim.status).toBe(404);
    const release = await api('DELETE', '/%2B16505550177');
    expect(release.status).toBe(404);
    const listed = await api('GET', '', undefined, admin.credential);
    expect(listed.body.data.numbers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ number: '+16505550177', applicationId: null, status: 'active' }),
      ]),
    );
    const released = await api('DELETE', '/%2B16505550177', undefined, admin.credential);
    expect(released.status).toBe(200);
    expect(released.body.data).toMatchObject({ number: '+16505550177', status: 'released' });
  });

  it('searches an area code, orders one of the offers and releases it at Skyetel', async () => {
    const offers = await api('GET', '/available?area_code=415&limit=2');
    expect(offers.status).toBe(200);
    expect(offers.body.data.numbers).toEqual([
      { number: '+14155550101', rateCenter: 'RC415', state: 'CA' },
      { number: '+14155550102', rateCenter: 'RC415', state: 'CA' },
    ]);

    const bought = await api('POST', '', { number: '+14155550101' });
    expect(bought.status).toBe(201);
    expect(bought.body.data).toMatchObject({ number: '+14155550101', status: 'active', applicationId: null });
    const carrierId = Number(bought.body.data.carrierId);
    expect(skyetel.numbers.get(carrierId)?.number).toBe('4155550101');

    const twice = await api('POST', '', { number: '+14155550101' });
    expect(twice.status).toBe(409);

    const released = await api('DELETE', '/%2B14155550101');
    expect(released.status).toBe(200);
    expect(released.body.data).toMatchObject({ number: '+14155550101', status: 'released' });
    expect(skyetel.numbers.has(carrierId)).toBe(false);
    const listed = await api('GET', '');
    expect(listed.body.data.numbers.map((row: { number: string }) => row.number)).not.toContain('+14155550101');
  });

  it('routes a number to an application: an inbound call to it then reaches that application', async () => {
    // The application comes from the seed helper (applications have no API yet); its own number is unrelated.
    const applicationId = env.seedNumber('+15551239999', { mediaApp: 'echo' });
    const bought = await api('POST', '', { number: '+14155550102' });
    expect(bought.status).toBe(201);
    const assigned = await api('PUT', '/%2B14155550102/application', { application_id: applicationId });
    expect(assigned.status).toBe(200);
    expect(assigned.body.data).toMatchObject({ number: '+14155550102', applicationId });

    const result = await env.sipp('carrier-calls-us.xml', { service: '+14155550102' });
    expect({ code: result.code, output: result.output }).toMatchObject({ code: 0 });
    const [call] = await eventually('the call record closed', async () => {
      const rows = await env.query<{ state: string; application_id: string }>(
        'SELECT * FROM "voice_calls" WHERE "to_number" = $1',
        ['+14155550102'],
      );
      return rows.length === 1 && rows[0]?.state === 'ended' ? rows : null;
    });
    expect(call?.application_id).toBe(applicationId);
  });

  it('answers 4xx with the error envelope for bad numbers, unknown applications and bad searches', async () => {
    const badPath = await api('DELETE', '/4155550101');
    expect(badPath.status).toBe(400);
    expect(badPath.body).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED' } });

    const badBody = await api('POST', '', { number: '415-555-0101' });
    expect(badBody.status).toBe(400);
    expect(badBody.body.success).toBe(false);

    const notNanp = await api('POST', '', { number: '+442071838750' });
    expect(notNanp.status).toBe(422);

    const notOffered = await api('POST', '', { number: '+13105550100' });
    expect(notOffered.status).toBe(422);
    expect(notOffered.body.error.message).toContain('Numbers not available');

    const notOurs = await api('DELETE', '/%2B13105550100');
    expect(notOurs.status).toBe(404);

    skyetel.addOwnedNumber('6505550178');
    await api('GET', '?sync=true', undefined, admin.credential);
    const unknownApp = await api(
      'PUT',
      '/%2B16505550178/application',
      { application_id: 'no-such-application' },
      admin.credential,
    );
    expect(unknownApp.status).toBe(404);
    expect(unknownApp.body.error.message).toContain('no application');

    const noArea = await api('GET', '/available');
    expect(noArea.status).toBe(400);
    const badArea = await api('GET', '/available?area_code=041');
    expect(badArea.status).toBe(400);
    const badSync = await api('GET', '?sync=maybe');
    expect(badSync.status).toBe(400);
  });

  it('refuses a caller without the voice:numbers scope', async () => {
    const callsOnly = env.auth.apiKey({ scopes: ['voice:calls'] });
    const refused = await api('GET', '', undefined, callsOnly.credential);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ success: false, error: { code: 'INSUFFICIENT_SCOPE' } });
  });

  it('answers 503 while Skyetel rate limits us past the retries, and recovers', async () => {
    skyetel.inject429(10, '3600');
    const limited = await api('GET', '/available?area_code=212');
    expect(limited.status).toBe(503);
    skyetel.inject429(0);
    const fine = await api('GET', '/available?area_code=212');
    expect(fine.status).toBe(200);
  });
});
