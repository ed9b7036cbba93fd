// SIP message model, parser and serializer (RFC 3261 §7): strict limits, every malformed input is a SipParseError.
// The parser never trusts a length or a count from the wire: sizes are bounded before anything is allocated.

export class SipParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SipParseError';
  }
}

/** Upper bounds that keep a hostile peer from making us allocate or loop much. */
export const SIP_LIMITS = {
  maxMessageBytes: 65_535,
  maxHeaders: 128,
  maxHeaderLineBytes: 8_192,
  maxBodyBytes: 32_768,
} as const;

/** Compact header forms (RFC 3261 §7.3.3 and extensions) → canonical names. */
const COMPACT_FORMS: Readonly<Record<string, string>> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  x: 'Session-Expires',
  o: 'Event',
  u: 'Allow-Events',
  r: 'Refer-To',
};

/** Canonical spelling for the headers we write, so serialized messages look conventional. */
const CANONICAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'record-route': 'Record-Route',
  'min-se': 'Min-SE',
  'session-expires': 'Session-Expires',
  'max-forwards': 'Max-Forwards',
  'content-length': 'Content-Length',
  'content-type': 'Content-Type',
};

export function canonicalHeaderName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 1) {
    const compact = COMPACT_FORMS[trimmed.toLowerCase()];
    if (compact) return compact;
  }
  const lower = trimmed.toLowerCase();
  const known = CANONICAL[lower];
  if (known) return known;
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/** Ordered header list, case-insensitive by name; a multi-value header keeps one entry per line/element. */
export class SipHeaders {
  private readonly entries: Array<[string, string]> = [];

  get(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    const found = this.entries.find(([n]) => n.toLowerCase() === key);
    return found?.[1];
  }

  getAll(name: string): string[] {
    const key = canonicalHeaderName(name).toLowerCase();
    return this.entries.filter(([n]) => n.toLowerCase() === key).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  append(name: string, value: string): this {
    assertHeaderSafe(name, value);
    this.entries.push([canonicalHeaderName(name), value]);
    return this;
  }

  /** Replaces every value of `name` with one value (kept at the position of the first one). */
  set(name: string, value: string): this {
    assertHeaderSafe(name, value);
    const canonical = canonicalHeaderName(name);
    const key = canonical.toLowerCase();
    const first = this.entries.findIndex(([n]) => n.toLowerCase() === key);
    this.remove(name);
    if (first < 0) this.entries.push([canonical, value]);
    else this.entries.splice(Math.min(first, this.entries.length), 0, [canonical, value]);
    return this;
  }

  prepend(name: string, value: string): this {
    assertHeaderSafe(name, value);
    this.entries.unshift([canonicalHeaderName(name), value]);
    return this;
  }

  remove(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    for (let i = this.entries.length - 1; i >= 0; i -= 1) {
      if (this.entries[i][0].toLowerCase() === key) this.entries.splice(i, 1);
    }
    return this;
  }

  /** Removes only the first value of `name` (the topmost Via when a response goes back). */
  removeFirst(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    const index = this.entries.findIndex(([n]) => n.toLowerCase() === key);
    if (index >= 0) this.entries.splice(index, 1);
    return this;
  }

  list(): ReadonlyArray<readonly [string, string]> {
    return this.entries;
  }

  clone(): SipHeaders {
    const copy = new SipHeaders();
    for (const [n, v] of this.entries) copy.entries.push([n, v]);
    return copy;
  }
}

function assertHeaderSafe(name: string, value: string): void {
  if (!/^[A-Za-z0-9!%*_+`'~.-]+$/.test(name)) throw new SipParseError(`invalid header name "${name.slice(0, 40)}"`);
  if (/[\r\n\0]/.test(value)) throw new SipParseError(`header ${name} contains a line break or NUL`);
}

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: Buffer;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
/** Headers that may be folded into one line separated by commas, and so split back (§7.3.1). */
const COMMA_SPLIT = new Set(['via', 'contact', 'route', 'record-route', 'allow', 'supported', 'require']);

/**
 * Parses one whole SIP message (a UDP datagram, or one framed TCP message). Throws SipParseError on anything
 * malformed: bad start line, missing mandatory headers, a Content-Length that disagrees with the bytes.
 */
export function parseSipMessage(data: Buffer, options: { stream?: boolean } = {}): SipMessage {
  if (data.length > SIP_LIMITS.maxMessageBytes) throw new SipParseError('message too large');
  // Leading CRLFs are keep-alives (RFC 5626) or stray; skip them (§7.5).
  let start = 0;
  while (start + 1 < data.length && data[start] === 0x0d && data[start + 1] === 0x0a) start += 2;
  const headEnd = data.indexOf('\r\n\r\n', start, 'latin1');
  if (headEnd < 0) throw new SipParseError('no end of headers');
  const head = data.toString('utf8', start, headEnd);
  if (head.includes('\0')) throw new SipParseError('NUL in header section');
  const rawLines = head.split('\r\n');
  // Unfold continuation lines (§7.3.1).
  const lines: string[] = [];
  for (const line of rawLines) {
    if (line.length > SIP_LIMITS.maxHeaderLineBytes) throw new SipParseError('header line too long');
    if ((line.startsWith(' ') || line.startsWith('\t')) && lines.length > 1) {
      lines[lines.length - 1] += ' ' + line.trim();
    } else {
      lines.push(line);
    }
  }
  if (lines.length - 1 > SIP_LIMITS.maxHeaders) throw new SipParseError('too many headers');
  const startLine = lines[0];
  const headers = new SipHeaders();
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) throw new SipParseError(`malformed header line ${i}`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw new SipParseError(`invalid header name on line ${i}`);
    const value = line.slice(colon + 1).trim();
    const canonical = canonicalHeaderName(name);
    if (COMMA_SPLIT.has(canonical.toLowerCase())) {
      for (const part of splitHeaderList(value)) headers.append(canonical, part);
    } else {
      headers.append(canonical, value);
    }
  }

  const bodyStart = headEnd + 4;
  const available = data.length - bodyStart;
  const lengthHeader = headers.get('Content-Length');
  let bodyLength: number;
  if (lengthHeader === undefined) {
    if (options.stream) throw new SipParseError('Content-Length is mandatory on stream transports');
    bodyLength = available;
  } else {
    if (!/^\d{1,6}$/.test(lengthHeader)) throw new SipParseError('invalid Content-Length');
    bodyLength = Number(lengthHeader);
    if (bodyLength > available) throw new SipParseError('Content-Length larger than the message');
  }
  if (bodyLength > SIP_LIMITS.maxBodyBytes) throw new SipParseError('body too large');
  const body = Buffer.from(data.subarray(bodyStart, bodyStart + bodyLength));

  const message = parseStartLine(startLine, headers, body);
  validateMandatoryHeaders(message);
  return message;
}

function parseStartLine(line: string, headers: SipHeaders, body: Buffer): SipMessage {
  if (line.startsWith('SIP/')) {
    const match = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/.exec(line);
    if (!match) throw new SipParseError('malformed status line');
    return { kind: 'response', status: Number(match[1]), reason: match[2], headers, body };
  }
  const parts = line.split(' ');
  if (parts.length !== 3) throw new SipParseError('malformed request line');
  const [method, uri, version] = parts;
  if (!TOKEN.test(method)) throw new SipParseError('invalid method');
  if (version !== 'SIP/2.0') throw new SipParseError('unsupported SIP version');
  if (!/^(sips?|tel):[^\s]+$/i.test(uri)) throw new SipParseError('invalid Request-URI');
  return { kind: 'request', method: method.toUpperCase(), uri, headers, body };
}

function validateMandatoryHeaders(message: SipMessage): void {
  const h = message.headers;
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    if (!h.has(name)) throw new SipParseError(`missing ${name}`);
  }
  const callId = h.get('Call-ID') ?? '';
  if (callId.length === 0 || callId.length > 256 || /\s/.test(callId)) throw new SipParseError('invalid Call-ID');
  const cseq = parseCSeq(h.get('CSeq') ?? '');
  if (message.kind === 'request') {
    if (cseq.method !== message.method) throw new SipParseError('CSeq method does not match the request');
    const maxForwards = h.get('Max-Forwards');
    if (maxForwards !== undefined && !/^\d{1,3}$/.test(maxForwards)) throw new SipParseError('invalid Max-Forwards');
  }
  // Parse the structured headers once here so later layers never meet a malformed one.
  for (const via of h.getAll('Via')) parseVia(via);
  parseNameAddr(h.get('From') ?? '');
  parseNameAddr(h.get('To') ?? '');
}

/** Splits a comma-separated header value, ignoring commas inside quotes and angle brackets. */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = [];
  let depthAngle = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < value.length; i += 1) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\' && i + 1 < value.length) {
        current += ch + value[i + 1];
        i += 1;
        continue;
      }
      if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depthAngle += 1;
    else if (ch === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === ',' && depthAngle === 0) {
      if (current.trim()) parts.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  if (quoted) throw new SipParseError('unterminated quoted string');
  if (current.trim()) parts.push(current.trim());
  return parts;
}

export function serializeSipMessage(message: SipMessage): Buffer {
  const startLine =
    message.kind === 'request'
      ? `${message.method} ${message.uri} SIP/2.0`
      : `SIP/2.0 ${message.status} ${message.reason}`;
  const lines = [startLine];
  for (const [name, value] of message.headers.list()) {
    if (name.toLowerCase() === 'content-length') continue;
    lines.push(`${name}: ${value}`);
  }
  lines.push(`Content-Length: ${message.body.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), message.body]);
}

export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const match = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(value.trim());
  if (!match) throw new SipParseError('invalid CSeq');
  const seq = Number(match[1]);
  if (seq > 2 ** 31 - 1) throw new SipParseError('CSeq number out of range');
  return { seq, method: match[2].toUpperCase() };
}

export type SipParams = Map<string, string | null>;

function parseParams(text: string): SipParams {
  const params: SipParams = new Map();
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (!TOKEN.test(name)) throw new SipParseError(`invalid parameter "${name.slice(0, 20)}"`);
    let value = eq < 0 ? null : part.slice(eq + 1).trim();
    if (value !== null && value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    params.set(name, value);
  }
  return params;
}

export function formatParams(params: SipParams): string {
  let out = '';
  for (const [name, value] of params) out += value === null ? `;${name}` : `;${name}=${value}`;
  return out;
}

export interface Via {
  transport: string;
  host: string;
  port: number | null;
  params: SipParams;
}

export function parseVia(value: string): Via {
  const match = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+([^;\s]+)\s*(;.*)?$/i.exec(value.trim());
  if (!match) throw new SipParseError('malformed Via');
  const { host, port } = parseHostPort(match[2]);
  return { transport: match[1].toUpperCase(), host, port, params: parseParams(match[3] ?? '') };
}

export function formatVia(via: Via): string {
  const hostPort = via.port === null ? formatHost(via.host) : `${formatHost(via.host)}:${via.port}`;
  return `SIP/2.0/${via.transport} ${hostPort}${formatParams(via.params)}`;
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function parseHostPort(text: string): { host: string; port: number | null } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  if (!match) throw new SipParseError('malformed host');
  const port = match[2] === undefined ? null : Number(match[2]);
  if (port !== null && (port < 1 || port > 65535)) throw new SipParseError('port out of range');
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
  return { host, port };
}

export interface SipUri {
  scheme: 'sip' | 'sips' | 'tel';
  user: string | null;
  host: string;
  port: number | null;
  params: SipParams;
}

export function parseSipUri(text: string): SipUri {
  const match = /^(sips?|tel):(.+)$/i.exec(text.trim());
  if (!match) throw new SipParseError('invalid URI scheme');
  const scheme = match[1].toLowerCase() as SipUri['scheme'];
  let rest = match[2];
  const headersAt = rest.indexOf('?');
  if (headersAt >= 0) rest = rest.slice(0, headersAt);
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    return { scheme, user: number, host: '', port: null, params: parseParams(semi < 0 ? '' : rest.slice(semi)) };
  }
  const at = rest.lastIndexOf('@');
  const user = at < 0 ? null : decodeUriUser(rest.slice(0, at).split(':')[0]);
  const hostPart = at < 0 ? rest : rest.slice(at + 1);
  const semi = hostPart.indexOf(';');
  const { host, port } = parseHostPort(semi < 0 ? hostPart : hostPart.slice(0, semi));
  return { scheme, user, host, port, params: parseParams(semi < 0 ? '' : hostPart.slice(semi)) };
}

function decodeUriUser(user: string): string {
  try {
    return decodeURIComponent(user);
  } catch {
    throw new SipParseError('invalid escape in URI user part');
  }
}

export function formatSipUri(uri: SipUri): string {
  if (uri.scheme === 'tel') return `tel:${uri.user ?? ''}${formatParams(uri.params)}`;
  const user = uri.user === null ? '' : `${uri.user}@`;
  const hostPort = uri.port === null ? formatHost(uri.host) : `${formatHost(uri.host)}:${uri.port}`;
  return `${uri.scheme}:${user}${hostPort}${formatParams(uri.params)}`;
}

export interface NameAddr {
  displayName: string | null;
  uri: string;
  params: SipParams;
}

/** Parses From/To/Contact/Route values: `"Name" <sip:u@h>;tag=x` or `sip:u@h;tag=x`. */
export function parseNameAddr(value: string): NameAddr {
  const text = value.trim();
  if (text === '*') return { displayName: null, uri: '*', params: new Map() };
  const lt = text.indexOf('<');
  if (lt >= 0) {
    const gt = text.indexOf('>', lt);
    if (gt < 0) throw new SipParseError('unterminated <URI>');
    let displayName: string | null = text.slice(0, lt).trim();
    if (displayName.startsWith('"') && displayName.endsWith('"') && displayName.length >= 2) {
      displayName = displayName.slice(1, -1);
    }
    const uri = text.slice(lt + 1, gt).trim();
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError('invalid URI in name-addr');
    return { displayName: displayName || null, uri, params: parseParams(text.slice(gt + 1)) };
  }
  const semi = text.indexOf(';');
  const uri = semi < 0 ? text : text.slice(0, semi);
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) throw new SipParseError('invalid addr-spec');
  return { displayName: null, uri, params: parseParams(semi < 0 ? '' : text.slice(semi)) };
}

export function formatNameAddr(addr: NameAddr): string {
  const display = addr.displayName ? `"${addr.displayName.replace(/["\\]/g, '')}" ` : '';
  return `${display}<${addr.uri}>${formatParams(addr.params)}`;
}

export function headerTag(value: string | undefined): string | null {
  if (value === undefined) return null;
  return parseNameAddr(value).params.get('tag') ?? null;
}
