// A local stand-in for Skyetel's REST API (base /v1) for tests: Skyetel cannot be reached from our machines. It
// checks what Skyetel checks — the X-AUTH-SID / X-AUTH-SECRET pair (401 `{"ERROR": ...}` otherwise) — and answers
// in its shapes: JSON arrays paged by `page[limit]`/`page[offset]`, `filter[field]` matching, 429 with Retry-After
// past a per-window request budget (or when a test injects it), `{"ERROR": ...}` bodies. Only the phone-number and
// endpoint resources voice uses exist here; Skyetel's SMS endpoints are deliberately absent.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { errorMessage } from '@sovren/resilience';

import type {
  SkyetelAvailableNumber,
  SkyetelE911Address,
  SkyetelEndpoint,
  SkyetelPhoneNumber,
} from '../lib/skyetel.types';

export interface SkyetelStandInOptions {
  sid?: string;
  secret?: string;
  /** Requests allowed per window before 429 (default: unlimited). */
  requestsPerWindow?: number;
  windowMs?: number;
  /** Retry-After (seconds) on a budget 429 (default 1). */
  retryAfterSeconds?: number;
  /** Numbers offered by the order search (10-digit strings); default a few per 415 and 212. */
  available?: string[];
}

export interface RecordedSkyetelRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  status: number;
}

interface Injected429 {
  times: number;
  retryAfter: string;
}

const DEFAULT_AVAILABLE = ['4155550101', '4155550102', '4155550103', '2125550101', '2125550102'];

export class SkyetelStandIn {
  readonly sid: string;
  readonly secret: string;
  readonly requests: RecordedSkyetelRequest[] = [];
  /** Our numbers, by id. */
  readonly numbers = new Map<number, SkyetelPhoneNumber>();
  readonly endpoints: SkyetelEndpoint[] = [];
  /** E911 addresses, by number id. */
  readonly e911 = new Map<number, SkyetelE911Address>();
  private readonly available: Set<string>;
  private readonly sockets = new Set<Socket>();
  private nextId = 1000;
  private windowStart = Date.now();
  private windowCount = 0;
  private injected: Injected429 | null = null;

  private constructor(
    private readonly server: Server,
    private readonly options: SkyetelStandInOptions,
  ) {
    this.sid = options.sid ?? 'stand-in-sid';
    this.secret = options.secret ?? 'stand-in-secret';
    this.available = new Set(options.available ?? DEFAULT_AVAILABLE);
  }

  static async start(options: SkyetelStandInOptions = {}): Promise<SkyetelStandIn> {
    const holder: { standIn?: SkyetelStandIn } = {};
    const server = createServer((req, res) => {
      holder.standIn?.handle(req, res).catch((error: unknown) => {
        // A handler bug must still answer (and be visible in the test output), never hang the client.
        console.error('Skyetel stand-in failed to answer', req.method, req.url, errorMessage(error));
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ERROR: 'stand-in failure' }));
      });
    });
    const owned = new SkyetelStandIn(server, options);
    holder.standIn = owned;
    server.on('connection', (socket) => {
      owned.sockets.add(socket);
      socket.on('close', () => owned.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return owned;
  }

  get hostPort(): string {
    const address = this.server.address() as AddressInfo;
    return `127.0.0.1:${address.port}`;
  }

  /** The API base, like `https://api.skyetel.com/v1`. */
  get url(): string {
    return `http://${this.hostPort}/v1`;
  }

  /** Adds a number we already own at Skyetel (10-digit string); returns its Skyetel id. */
  addOwnedNumber(number: string, note = ''): number {
    const id = this.nextId++;
    this.numbers.set(id, { id, number, note, endpoint_group: { id: 1, name: 'sovren' }, e911_enabled: false });
    this.available.delete(number);
    return id;
  }

  /** The next `times` requests get 429 with this Retry-After header value. */
  inject429(times: number, retryAfter = '0'): void {
    this.injected = { times, retryAfter };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      this.requests.push({ method, path: url.pathname, query: url.searchParams, status });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.headers['x-auth-sid'] !== this.sid || req.headers['x-auth-secret'] !== this.secret) {
      answer(401, { ERROR: 'Invalid API credentials' });
      return;
    }
    if (this.injected && this.injected.times > 0) {
      this.injected.times -= 1;
      answer(429, { ERROR: 'Too Many Requests' }, { 'retry-after': this.injected.retryAfter });
      return;
    }
    if (this.options.requestsPerWindow !== undefined) {
      const windowMs = this.options.windowMs ?? 60_000;
      if (Date.now() - this.windowStart >= windowMs) {
        this.windowStart = Date.now();
        this.windowCount = 0;
      }
      this.windowCount += 1;
      if (this.windowCount > this.options.requestsPerWindow) {
        answer(429, { ERROR: 'Too Many Requests' }, { 'retry-after': String(this.options.retryAfterSeconds ?? 1) });
        return;
      }
    }
    const path = url.pathname.replace(/\/+$/, '');
    const query = url.searchParams;
    if (method === 'GET' && path === '/v1/phonenumbers') {
      const page = paged(
        [...this.numbers.values()].filter((row) => matches(row, query)),
        query,
      );
      if (typeof page === 'string') answer(400, { ERROR: page });
      else answer(200, page);
      return;
    }
    if (method === 'GET' && path === '/v1/phonenumbers/order/search') {
      const npas = query.getAll('filter[npas][]');
      const quantity = Number(query.get('filter[quantity]') ?? '1');
      if (npas.length === 0 || npas.some((npa) => !/^[2-9]\d{2}$/.test(npa))) {
        answer(400, { ERROR: 'filter[npas] must list 3-digit area codes' });
        return;
      }
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 100) {
        answer(400, { ERROR: 'filter[quantity] must be 1-100' });
        return;
      }
      const found: SkyetelAvailableNumber[] = [...this.available]
        .filter((number) => npas.includes(number.slice(0, 3)))
        .slice(0, quantity)
        .map((number) => ({ number, rate_center: `RC${number.slice(0, 3)}`, state: 'CA' }));
      answer(200, found);
      return;
    }
    if (method === 'POST' && path === '/v1/phonenumbers/order') {
      const form = new URLSearchParams(raw);
      const wanted = [...form.keys()]
        .map((key) => /^numbers\[(\d{10,11})\]\[mou\]$/.exec(key)?.[1])
        .filter((number): number is string => number !== undefined);
      if (wanted.length === 0) {
        answer(400, { ERROR: 'No numbers to order' });
        return;
      }
      const unavailable = wanted.filter((number) => !this.available.has(number));
      if (unavailable.length > 0) {
        answer(400, { ERROR: `Numbers not available: ${unavailable.join(', ')}` });
        return;
      }
      answer(
        200,
        wanted.map((number) => {
          const id = this.addOwnedNumber(number);
          return this.numbers.get(id);
        }),
      );
      return;
    }
    const e911 = /^\/v1\/phonenumbers\/(\d+)\/e911address$/.exec(path);
    if (e911) {
      const id = Number(e911[1]);
      if (!this.numbers.has(id)) {
        answer(404, { ERROR: 'Phone number not found' });
        return;
      }
      if (method === 'GET') {
        const address = this.e911.get(id);
        if (address) answer(200, address);
        else answer(404, { ERROR: 'No E911 address for this number' });
        return;
      }
      if (method === 'POST' || method === 'PATCH') {
        const form = new URLSearchParams(raw);
        const required = ['caller_name', 'address1', 'community', 'state', 'postal_code'] as const;
        const missing = required.filter((field) => !form.get(field));
        if (missing.length > 0) {
          answer(400, { ERROR: `Missing fields: ${missing.join(', ')}` });
          return;
        }
        const address: SkyetelE911Address = {
          caller_name: form.get('caller_name') ?? '',
          address1: form.get('address1') ?? '',
          address2: form.get('address2') ?? '',
          community: form.get('community') ?? '',
          state: form.get('state') ?? '',
          postal_code: form.get('postal_code') ?? '',
        };
        this.e911.set(id, address);
        const row = this.numbers.get(id);
        if (row) row.e911_enabled = true;
        answer(200, { id, ...address });
        return;
      }
    }
    const one = /^\/v1\/phonenumbers\/(\d+)$/.exec(path);
    if (method === 'DELETE' && one) {
      const id = Number(one[1]);
      const row = this.numbers.get(id);
      if (!row) {
        answer(404, { ERROR: 'Phone number not found' });
        return;
      }
      this.numbers.delete(id);
      answer(200, { SUCCESS: true });
      return;
    }
    if (method === 'GET' && path === '/v1/endpoints') {
      const page = paged(this.endpoints, query);
      if (typeof page === 'string') answer(400, { ERROR: page });
      else answer(200, page);
      return;
    }
    answer(404, { ERROR: 'Not Found' });
  }
}

function matches(row: SkyetelPhoneNumber, query: URLSearchParams): boolean {
  for (const [key, value] of query.entries()) {
    const field = /^filter\[(\w+)\]$/.exec(key)?.[1];
    if (!field) continue;
    const actual = (row as unknown as Record<string, unknown>)[field];
    if (field === 'query' ? !row.number.includes(value) : String(actual) !== value) return false;
  }
  return true;
}

function paged<T>(rows: T[], query: URLSearchParams): T[] | string {
  const limit = Number(query.get('page[limit]') ?? '10');
  const offset = Number(query.get('page[offset]') ?? '0');
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return 'page[limit] must be 1-1000';
  if (!Number.isInteger(offset) || offset < 0) return 'page[offset] must be 0 or more';
  return rows.slice(offset, offset + limit);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
