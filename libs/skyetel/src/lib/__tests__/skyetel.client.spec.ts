// Specification of the Skyetel client against the local stand-in (real HTTP through the egress client): the auth
// header pair, every page of a list, the order/search/release paths, the limiter under 120/min, 429s waited out
// as Retry-After says, and every failure as a typed SkyetelError.
import { Logger } from '@nestjs/common';
import { testPlatformConfig } from '@sovren/config/testing';
import { EgressClient } from '@sovren/egress';
import { MetricsService } from '@sovren/observability';

import { SkyetelStandIn } from '../../testing/skyetel-stand-in.server';
import { retryAfterMs, SkyetelClient, skyetelNumberToE164, type SkyetelClientOptions } from '../skyetel.client';
import { SkyetelError } from '../skyetel.errors';
import { SkyetelRateLimiter } from '../skyetel.rate-limiter';

jest.setTimeout(30_000);

describe('SkyetelClient against the Skyetel stand-in', () => {
  let standIn: SkyetelStandIn;
  let egress: EgressClient;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    standIn = await SkyetelStandIn.start({ sid: 'sid-123', secret: 'secret-S3CR3T' });
    egress = new EgressClient(
      testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: standIn.hostPort }),
      new MetricsService('skyetel-test'),
    );
  });

  afterAll(async () => {
    await standIn?.stop();
  });

  beforeEach(() => {
    standIn.requests.length = 0;
    standIn.numbers.clear();
  });

  function client(overrides: Partial<SkyetelClientOptions> = {}): SkyetelClient {
    return new SkyetelClient(egress, { baseUrl: standIn.url, sid: standIn.sid, secret: standIn.secret, ...overrides });
  }

  it('lists every page of our numbers with page[limit]/page[offset]', async () => {
    for (let i = 0; i < 25; i += 1) standIn.addOwnedNumber(`41555512${String(i).padStart(2, '0')}`);
    const numbers = await client({ pageSize: 10 }).listPhoneNumbers();
    expect(numbers).toHaveLength(25);
    expect(new Set(numbers.map((row) => row.number)).size).toBe(25);
    expect(standIn.requests.map((r) => [r.query.get('page[limit]'), r.query.get('page[offset]')])).toEqual([
      ['10', '0'],
      ['10', '10'],
      ['10', '20'],
    ]);
  });

  it('finds one number with filter[number] and maps it to E.164', async () => {
    standIn.addOwnedNumber('4155550199');
    standIn.addOwnedNumber('4155550198');
    const found = await client().findPhoneNumber('+14155550199');
    expect(found && skyetelNumberToE164(found.number)).toBe('+14155550199');
    expect(standIn.requests[0]?.query.get('filter[number]')).toBe('4155550199');
    expect(await client().findPhoneNumber('+14155550000')).toBeNull();
  });

  it('searches an area code, orders a number from it and releases it', async () => {
    const offered = await client().searchAvailable('212', 5);
    expect(offered.map((row) => row.number)).toEqual(['2125550101', '2125550102']);
    expect(standIn.requests[0]?.query.getAll('filter[npas][]')).toEqual(['212']);

    const ordered = await client().orderNumber('+12125550101');
    expect(ordered.number).toBe('2125550101');
    expect(standIn.numbers.has(ordered.id)).toBe(true);

    await client().releaseNumber(ordered.id);
    expect(standIn.numbers.has(ordered.id)).toBe(false);
  });

  it('sets and reads the E911 address of one of our numbers', async () => {
    const id = standIn.addOwnedNumber('4155550170');
    const address = {
      caller_name: 'SOVREN Ops',
      address1: '1 Market St',
      community: 'San Francisco',
      state: 'CA',
      postal_code: '94105',
    };
    expect(await client().setE911Address(id, address)).toMatchObject(address);
    expect(await client().getE911Address(id)).toMatchObject(address);
    expect(standIn.numbers.get(id)?.e911_enabled).toBe(true);
    const incomplete = await client()
      .setE911Address(id, { ...address, community: '' })
      .catch((error: unknown) => error);
    expect((incomplete as SkyetelError).kind).toBe('invalid');
  });

  it('lists our SIP endpoints', async () => {
    standIn.endpoints.push({
      id: 7,
      ip: '203.0.113.10',
      port: 5060,
      transport: 'udp',
      priority: 1,
      endpoint_group: { id: 1, name: 'sovren' },
    });
    expect(await client().listEndpoints()).toEqual([expect.objectContaining({ ip: '203.0.113.10', port: 5060 })]);
  });

  it('maps Skyetel refusals to SkyetelError kinds with its ERROR text', async () => {
    const unavailable = await client()
      .orderNumber('+13105550100')
      .catch((error: unknown) => error);
    expect(unavailable).toBeInstanceOf(SkyetelError);
    expect((unavailable as SkyetelError).kind).toBe('invalid');
    expect((unavailable as SkyetelError).detail).toContain('Numbers not available');

    const missing = await client()
      .releaseNumber(424242)
      .catch((error: unknown) => error);
    expect((missing as SkyetelError).kind).toBe('not_found');
    expect((missing as SkyetelError).status).toBe(404);

    const badSecret = await client({ secret: 'wrong' })
      .listPhoneNumbers()
      .catch((error: unknown) => error);
    expect((badSecret as SkyetelError).kind).toBe('configuration');
    expect((badSecret as SkyetelError).message).not.toContain('wrong');
  });

  it('refuses a host that is not on the egress allowlist as a configuration error, sending nothing', async () => {
    const strict = new EgressClient(
      testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: 'api.skyetel.com' }),
      new MetricsService('skyetel-test-strict'),
    );
    const refused = await new SkyetelClient(strict, { baseUrl: standIn.url, sid: 'a', secret: 'b' })
      .listPhoneNumbers()
      .catch((error: unknown) => error);
    expect((refused as SkyetelError).kind).toBe('configuration');
    expect(standIn.requests).toHaveLength(0);
  });

  it('waits out a 429 for as long as Retry-After says, then succeeds', async () => {
    standIn.addOwnedNumber('4155550150');
    standIn.inject429(2, '2');
    const waits: number[] = [];
    const numbers = await client({ sleep: async (ms) => void waits.push(ms) }).listPhoneNumbers();
    expect(numbers).toHaveLength(1);
    expect(waits).toEqual([2000, 2000]);
    expect(standIn.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('gives up as rate_limited after max429Retries, or at once when Retry-After is too long', async () => {
    standIn.inject429(5, '0');
    const exhausted = await client({ max429Retries: 2 })
      .listPhoneNumbers()
      .catch((error: unknown) => error);
    expect((exhausted as SkyetelError).kind).toBe('rate_limited');
    expect(standIn.requests).toHaveLength(3);

    standIn.requests.length = 0;
    standIn.inject429(1, '3600');
    const tooLong = await client()
      .listPhoneNumbers()
      .catch((error: unknown) => error);
    expect((tooLong as SkyetelError).kind).toBe('rate_limited');
    expect(standIn.requests).toHaveLength(1);
    standIn.inject429(0);
  });

  it('keeps a burst under the server budget with its own limiter, so the server never answers 429', async () => {
    const strictServer = await SkyetelStandIn.start({ requestsPerWindow: 4, windowMs: 600, retryAfterSeconds: 60 });
    try {
      const strictEgress = new EgressClient(
        testPlatformConfig({ SOVREN_EGRESS_ALLOWLIST: strictServer.hostPort }),
        new MetricsService('skyetel-test-burst'),
      );
      const limited = new SkyetelClient(strictEgress, {
        baseUrl: strictServer.url,
        sid: strictServer.sid,
        secret: strictServer.secret,
        requestsPerMinute: 3,
        windowMs: 700,
        max429Retries: 0,
      });
      const started = Date.now();
      await Promise.all(Array.from({ length: 7 }, () => limited.searchAvailable('415', 1)));
      expect(strictServer.requests.map((r) => r.status)).toEqual(Array(7).fill(200));
      // 7 requests at 3 per 700 ms need three windows: at least two full waits.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_300);
    } finally {
      await strictServer.stop();
    }
  });

  it('refuses a ceiling at or above Skyetel’s 120 requests a minute', () => {
    expect(() => client({ requestsPerMinute: 120 })).toThrow(/1-119/);
  });
});

describe('SkyetelRateLimiter', () => {
  it('lets `limit` requests start per window and makes the next one wait for the oldest to leave it', async () => {
    let now = 0;
    const slept: number[] = [];
    const limiter = new SkyetelRateLimiter({
      limit: 2,
      windowMs: 1_000,
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    });
    await limiter.acquire();
    now = 100;
    await limiter.acquire();
    await limiter.acquire();
    expect(slept).toEqual([900]);
    expect(now).toBe(1_000);
    expect(limiter.inWindow).toBe(2);
  });
});

describe('retryAfterMs', () => {
  it('reads delta-seconds and HTTP dates, and falls back to one second', () => {
    expect(retryAfterMs('7')).toBe(7_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', Date.parse('Thu, 01 Jan 2026 00:00:00 GMT'))).toBe(10_000);
    expect(retryAfterMs(null)).toBe(1_000);
    expect(retryAfterMs('soon')).toBe(1_000);
  });
});
