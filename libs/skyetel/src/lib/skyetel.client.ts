// The Skyetel REST client (phone numbers and SIP endpoints), over the platform's EgressClient so Skyetel's host
// must be on the egress allowlist. Auth is Skyetel's X-AUTH-SID / X-AUTH-SECRET header pair; a client-side limiter
// keeps us under its 120 requests a minute, a 429 is retried after its Retry-After, and every failure is a typed
// SkyetelError. The secret is never logged. Paths: https://api.docs.skyetel.com and dfiel/python_skyetel urls.py.
import { Logger } from '@nestjs/common';
import { EgressClient, EgressError, EgressErrorCode, EgressResponse } from '@sovren/egress';
import { errorMessage } from '@sovren/resilience';

import { kindForStatus, parseSkyetelError, SkyetelError } from './skyetel.errors';
import { SkyetelRateLimiter } from './skyetel.rate-limiter';
import type { SkyetelAvailableNumber, SkyetelE911Address, SkyetelEndpoint, SkyetelPhoneNumber } from './skyetel.types';

export const SKYETEL_DEFAULT_API_URL = 'https://api.skyetel.com/v1';
/** Skyetel's documented ceiling; our limiter stays below it. */
export const SKYETEL_MAX_REQUESTS_PER_MINUTE = 120;

export interface SkyetelClientOptions {
  /** API base including the version path, e.g. `https://api.skyetel.com/v1`. */
  baseUrl: string;
  sid: string;
  secret: string;
  /** Our own ceiling (1-119, default 100). */
  requestsPerMinute?: number;
  /** Limiter window (default 60 000 ms); tests shorten it. */
  windowMs?: number;
  timeoutMs?: number;
  /** How many 429s one request may wait out before it fails as `rate_limited` (default 3). */
  max429Retries?: number;
  /** Longest Retry-After honoured (ms, default 60 000); a longer one fails at once as `rate_limited`. */
  maxRetryAfterMs?: number;
  /** Page size of list calls (Skyetel's page[limit]; default 100). */
  pageSize?: number;
  sleep?: (ms: number) => Promise<void>;
}

export type SkyetelQuery = Record<string, string | number | Array<string | number> | undefined>;

/** Turns `number` into E.164: Skyetel lists NANP numbers as 10 digits (or 11 with the leading 1). */
export function skyetelNumberToE164(number: string | number): string | null {
  const digits = String(number).replace(/\D/g, '');
  if (/^[2-9]\d{9}$/.test(digits)) return `+1${digits}`;
  if (/^1[2-9]\d{9}$/.test(digits)) return `+${digits}`;
  return null;
}

/** The 10-digit form Skyetel's order and filter parameters take; null for a number outside the NANP. */
export function e164ToSkyetelNumber(e164: string): string | null {
  const match = /^\+1([2-9]\d{9})$/.exec(e164);
  return match?.[1] ?? null;
}

export class SkyetelClient {
  private readonly logger = new Logger('SkyetelClient');
  private readonly base: URL;
  private readonly limiter: SkyetelRateLimiter;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly settings: Required<Omit<SkyetelClientOptions, 'sleep' | 'windowMs'>>;

  constructor(
    private readonly egress: EgressClient,
    options: SkyetelClientOptions,
  ) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    if (this.base.search !== '' || this.base.hash !== '') {
      throw new Error('SkyetelClient: baseUrl must not carry a query or fragment');
    }
    if (!options.sid || !options.secret) throw new Error('SkyetelClient: sid and secret are required');
    this.settings = {
      requestsPerMinute: 100,
      timeoutMs: 15_000,
      max429Retries: 3,
      maxRetryAfterMs: 60_000,
      pageSize: 100,
      ...options,
    };
    const perMinute = this.settings.requestsPerMinute;
    if (!Number.isInteger(perMinute) || perMinute < 1 || perMinute >= SKYETEL_MAX_REQUESTS_PER_MINUTE) {
      throw new Error(`SkyetelClient: requestsPerMinute must be 1-${SKYETEL_MAX_REQUESTS_PER_MINUTE - 1}`);
    }
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.limiter = new SkyetelRateLimiter({ limit: perMinute, windowMs: options.windowMs, sleep: options.sleep });
  }

  /** All our numbers (every page of `GET /phonenumbers`). */
  listPhoneNumbers(filters: Record<string, string> = {}): Promise<SkyetelPhoneNumber[]> {
    return this.listAll<SkyetelPhoneNumber>('phonenumbers', filters);
  }

  /** Our number with this E.164 value, or null (`GET /phonenumbers?filter[number]=`). */
  async findPhoneNumber(e164: string): Promise<SkyetelPhoneNumber | null> {
    const digits = e164ToSkyetelNumber(e164);
    if (!digits) return null;
    const found = await this.listPhoneNumbers({ number: digits });
    return found.find((row) => skyetelNumberToE164(row.number) === e164) ?? null;
  }

  /** Numbers available to order in an area code (`GET /phonenumbers/order/search`, local category). */
  async searchAvailable(areaCode: string, quantity = 10): Promise<SkyetelAvailableNumber[]> {
    if (!/^[2-9]\d{2}$/.test(areaCode)) {
      throw new SkyetelError('invalid', `area code ${areaCode} is not a NANP area code`, undefined, undefined);
    }
    const body = await this.requestJson<unknown>('GET', 'phonenumbers/order/search', {
      query: { 'filter[npas][]': [areaCode], 'filter[category]': 1, 'filter[quantity]': quantity },
    });
    return this.asArray<SkyetelAvailableNumber>(body, 'phonenumbers/order/search');
  }

  /**
   * Orders one number (`POST /phonenumbers/order`, form fields `numbers[<number>][mou]` as python_skyetel sends
   * them; `mou` is the expected minutes of use). Answers the ordered number as Skyetel now lists it.
   */
  async orderNumber(e164: string, expectedMinutesOfUse = 0): Promise<SkyetelPhoneNumber> {
    const digits = e164ToSkyetelNumber(e164);
    if (!digits) throw new SkyetelError('invalid', `${e164} is not a NANP number`, undefined, undefined);
    const form = new URLSearchParams({ [`numbers[${digits}][mou]`]: String(expectedMinutesOfUse) });
    const body = await this.requestJson<unknown>('POST', 'phonenumbers/order', {
      body: form.toString(),
      contentType: 'application/x-www-form-urlencoded',
    });
    const ordered = this.asArray<SkyetelPhoneNumber>(body, 'phonenumbers/order').find(
      (row) => skyetelNumberToE164(row.number) === e164,
    );
    if (!ordered || typeof ordered.id !== 'number') {
      throw new SkyetelError('protocol', `Skyetel's order answer does not list ${e164}`, 200, undefined);
    }
    return ordered;
  }

  /** Releases one of our numbers (`DELETE /phonenumbers/{id}`; path assumed, docs/voice.md). */
  async releaseNumber(id: number): Promise<void> {
    await this.request('DELETE', `phonenumbers/${encodeURIComponent(String(id))}`, {});
  }

  /** The E911 address of one of our numbers (`GET /phonenumbers/{id}/e911address`). */
  getE911Address(id: number): Promise<SkyetelE911Address> {
    return this.requestJson<SkyetelE911Address>(
      'GET',
      `phonenumbers/${encodeURIComponent(String(id))}/e911address`,
      {},
    );
  }

  /** Sets the E911 address of one of our numbers (`POST /phonenumbers/{id}/e911address`, form fields). */
  setE911Address(id: number, address: SkyetelE911Address): Promise<SkyetelE911Address> {
    const form = new URLSearchParams({
      caller_name: address.caller_name,
      address1: address.address1,
      address2: address.address2 ?? '',
      community: address.community,
      state: address.state,
      postal_code: address.postal_code,
    });
    return this.requestJson<SkyetelE911Address>('POST', `phonenumbers/${encodeURIComponent(String(id))}/e911address`, {
      body: form.toString(),
      contentType: 'application/x-www-form-urlencoded',
    });
  }

  /** Our SIP endpoints (every page of `GET /endpoints`). */
  listEndpoints(): Promise<SkyetelEndpoint[]> {
    return this.listAll<SkyetelEndpoint>('endpoints', {});
  }

  /** Every page of a list resource: `page[limit]`/`page[offset]` until a short page. */
  async listAll<T>(path: string, filters: Record<string, string>): Promise<T[]> {
    const limit = this.settings.pageSize;
    const rows: T[] = [];
    const query: SkyetelQuery = {};
    for (const [field, value] of Object.entries(filters)) query[`filter[${field}]`] = value;
    for (let offset = 0; ; offset += limit) {
      const body = await this.requestJson<unknown>('GET', path, {
        query: { ...query, 'page[limit]': limit, 'page[offset]': offset },
      });
      const page = this.asArray<T>(body, path);
      rows.push(...page);
      if (page.length < limit) return rows;
      if (offset > 1_000_000) throw new SkyetelError('protocol', `Skyetel ${path} never ends`, 200, undefined);
    }
  }

  private async requestJson<T>(
    method: string,
    path: string,
    options: { query?: SkyetelQuery; body?: string; contentType?: string },
  ): Promise<T> {
    const response = await this.request(method, path, options);
    try {
      return response.json<T>();
    } catch (error) {
      throw new SkyetelError(
        'protocol',
        `Skyetel ${method} ${path} answered a body that is not JSON`,
        response.status,
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  private asArray<T>(body: unknown, path: string): T[] {
    if (!Array.isArray(body)) {
      throw new SkyetelError('protocol', `Skyetel ${path} answered something other than a list`, 200, undefined);
    }
    return body as T[];
  }

  /** One request through the limiter; 429s are waited out (Retry-After) up to max429Retries. */
  private async request(
    method: string,
    path: string,
    options: { query?: SkyetelQuery; body?: string; contentType?: string },
  ): Promise<EgressResponse> {
    const url = new URL(path, this.base);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item));
      else url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-auth-sid': this.settings.sid,
      'x-auth-secret': this.settings.secret,
    };
    if (options.contentType) headers['content-type'] = options.contentType;
    for (let attempt = 0; ; attempt += 1) {
      await this.limiter.acquire();
      let response: EgressResponse;
      try {
        response = await this.egress.request(url, {
          method,
          headers,
          body: options.body,
          timeoutMs: this.settings.timeoutMs,
        });
      } catch (error) {
        const refused = error instanceof EgressError && error.code === EgressErrorCode.HOST_NOT_ALLOWED;
        const kind = refused ? 'configuration' : 'unavailable';
        this.logger.warn({ msg: 'Skyetel request failed', method, path, kind, error: errorMessage(error) });
        throw new SkyetelError(kind, `Skyetel ${method} ${path} failed: ${errorMessage(error)}`, undefined, undefined, {
          cause: error,
        });
      }
      if (response.ok) return response;
      if (response.status === 429 && attempt < this.settings.max429Retries) {
        const waitMs = retryAfterMs(response.headers.get('retry-after'));
        if (waitMs <= this.settings.maxRetryAfterMs) {
          this.logger.warn({ msg: 'Skyetel answered 429; waiting as told', method, path, waitMs, attempt });
          await this.sleep(waitMs);
          continue;
        }
      }
      const detail = parseSkyetelError(response.text());
      const kind = kindForStatus(response.status);
      this.logger.warn({ msg: 'Skyetel request refused', method, path, status: response.status, kind, detail });
      throw new SkyetelError(
        kind,
        `Skyetel ${method} ${path} answered ${response.status}${detail ? `: ${detail}` : ''}`,
        response.status,
        detail,
      );
    }
  }
}

/** Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); missing or unreadable: 1 s. */
export function retryAfterMs(value: string | null, now = Date.now()): number {
  if (value === null || value.trim() === '') return 1_000;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 1_000 : Math.max(0, at - now);
}
