// RFC 3261 §17 transactions: client and server, INVITE and non-INVITE, with timers A-K over a reliable or
// unreliable transport. The transaction user (the UA core) sees each new request once and each response once.
import { randomBytes } from 'node:crypto';

import {
  SipHeaders,
  SipMessage,
  SipRequest,
  SipResponse,
  type SipUri,
  formatVia,
  parseCSeq,
  parseVia,
  serializeSipMessage,
} from './sip-message';

export type SipTransportName = 'UDP' | 'TCP' | 'TLS';

/**
 * The transport and default port a SIP URI asks for (RFC 3261 §19.1.2, RFC 3263 without DNS): `sips:` or
 * `;transport=tls` is TLS on 5061, `;transport=tcp` TCP on 5060, otherwise `fallback` (the signalling transport).
 */
export function uriTransport(uri: SipUri, fallback: SipTransportName): { transport: SipTransportName; port: number } {
  const param = (uri.params.get('transport') ?? '').toLowerCase();
  const transport: SipTransportName =
    uri.scheme === 'sips' || param === 'tls' ? 'TLS' : param === 'tcp' ? 'TCP' : param === 'udp' ? 'UDP' : fallback;
  return { transport, port: uri.port ?? (transport === 'TLS' ? 5061 : 5060) };
}

/** Where a message came from or goes to. */
export interface SipPeer {
  transport: SipTransportName;
  address: string;
  port: number;
}

export interface SipTimers {
  t1: number;
  t2: number;
  t4: number;
}

export const DEFAULT_SIP_TIMERS: SipTimers = { t1: 500, t2: 4000, t4: 5000 };

export const RFC3261_BRANCH_PREFIX = 'z9hG4bK';

export function newBranch(): string {
  return `${RFC3261_BRANCH_PREFIX}${randomBytes(10).toString('hex')}`;
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

export type SendFunction = (data: Buffer, peer: SipPeer) => void;

export type ServerTransactionState = 'proceeding' | 'completed' | 'confirmed' | 'terminated';

/** A request we received; the TU answers through `respond`. */
export class ServerTransaction {
  state: ServerTransactionState = 'proceeding';
  lastResponse: Buffer | null = null;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: SipPeer,
    private readonly layer: SipTransactionLayer,
  ) {}

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  /** Sends a response built from the request (Via, From, To, Call-ID, CSeq copied); returns it. */
  respond(
    status: number,
    reason: string,
    options: { toTag?: string; headers?: Array<[string, string]>; body?: Buffer; contentType?: string } = {},
  ): SipResponse {
    const response = buildResponse(this.request, status, reason, options);
    this.sendResponse(response);
    return response;
  }

  sendResponse(response: SipResponse): void {
    if (this.state === 'terminated' || this.state === 'confirmed') return;
    if (this.state === 'completed') return; // final already sent; retransmissions go through on request retransmits
    const data = serializeSipMessage(response);
    this.lastResponse = data;
    this.layer.transmit(data, this.responsePeer());
    this.layer.onResponseSent(response);
    if (response.status < 200) return;
    const t = this.layer.timers;
    const reliable = this.peer.transport !== 'UDP';
    if (this.isInvite) {
      if (response.status < 300) {
        // 2xx: the TU retransmits it until ACK (§13.3.1.4); the transaction ends now.
        this.terminate();
        return;
      }
      this.state = 'completed';
      if (!reliable) this.retransmitUntil(t.t1, t.t2); // Timer G
      this.after(64 * t.t1, () => this.terminate()); // Timer H
    } else {
      this.state = 'completed';
      this.after(reliable ? 0 : 64 * t.t1, () => this.terminate()); // Timer J
    }
  }

  /** The request came again: resend our last response (§17.2.1/§17.2.2). */
  onRetransmission(): void {
    if (this.lastResponse && this.state !== 'terminated') this.layer.transmit(this.lastResponse, this.responsePeer());
  }

  onAck(): void {
    if (this.state !== 'completed') return;
    this.state = 'confirmed';
    this.clearTimers();
    this.after(this.peer.transport === 'UDP' ? this.layer.timers.t4 : 0, () => this.terminate()); // Timer I
  }

  private retransmitUntil(interval: number, cap: number): void {
    this.after(interval, () => {
      if (this.state !== 'completed' || !this.lastResponse) return;
      this.layer.transmit(this.lastResponse, this.responsePeer());
      this.retransmitUntil(Math.min(interval * 2, cap), cap);
    });
  }

  /** Responses go to the received/rport address of the top Via (RFC 3581 symmetric response). */
  private responsePeer(): SipPeer {
    return this.peer;
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.layer.forgetServer(this.key);
  }
}

export interface ClientTransactionHandlers {
  onResponse(response: SipResponse): void;
  /** Timer B/F fired, or the transport failed: the TU treats it as a 408. */
  onTimeout(): void;
}

export type ClientTransactionState = 'calling' | 'proceeding' | 'completed' | 'terminated';

export class ClientTransaction {
  state: ClientTransactionState = 'calling';
  private timers: NodeJS.Timeout[] = [];
  private readonly data: Buffer;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly peer: SipPeer,
    private readonly layer: SipTransactionLayer,
    private readonly handlers: ClientTransactionHandlers,
  ) {
    this.data = serializeSipMessage(request);
  }

  get isInvite(): boolean {
    return this.request.method === 'INVITE';
  }

  start(): void {
    this.layer.transmit(this.data, this.peer);
    const t = this.layer.timers;
    if (this.peer.transport === 'UDP') this.retransmit(t.t1); // Timer A / E
    this.after(64 * t.t1, () => {
      // Timer B / F
      if (this.state === 'calling' || this.state === 'proceeding') {
        this.terminate();
        this.handlers.onTimeout();
      }
    });
  }

  private retransmit(interval: number): void {
    this.after(interval, () => {
      if (this.state === 'terminated' || this.state === 'completed') return;
      if (this.isInvite && this.state === 'proceeding') return; // Timer A stops on a provisional
      this.layer.transmit(this.data, this.peer);
      const t = this.layer.timers;
      const next = this.isInvite ? interval * 2 : Math.min(interval * 2, this.state === 'proceeding' ? t.t2 : t.t2);
      this.retransmit(next);
    });
  }

  onResponse(response: SipResponse): void {
    if (this.state === 'terminated') return;
    const t = this.layer.timers;
    if (response.status < 200) {
      if (this.state === 'calling') this.state = 'proceeding';
      if (this.state === 'proceeding') this.handlers.onResponse(response);
      return;
    }
    if (this.isInvite) {
      if (response.status < 300) {
        this.terminate(); // the TU ACKs 2xx itself (new transaction)
        this.handlers.onResponse(response);
        return;
      }
      // 3xx-6xx: ACK in this transaction (§17.1.1.3), absorb retransmissions (Timer D).
      this.layer.transmit(serializeSipMessage(buildNon2xxAck(this.request, response)), this.peer);
      if (this.state === 'completed') return;
      this.state = 'completed';
      this.clearTimers();
      this.after(this.peer.transport === 'UDP' ? 32_000 : 0, () => this.terminate());
      this.handlers.onResponse(response);
      return;
    }
    if (this.state === 'completed') return;
    this.state = 'completed';
    this.clearTimers();
    this.after(this.peer.transport === 'UDP' ? t.t4 : 0, () => this.terminate()); // Timer K
    this.handlers.onResponse(response);
  }

  /** CANCEL succeeded or the TU gave up: stop retransmitting and forget. */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.clearTimers();
    this.layer.forgetClient(this.key);
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
}

export interface TransactionUser {
  /** A new request (not a retransmission, not an ACK for a non-2xx). ACK for 2xx arrives here too. */
  onRequest(request: SipRequest, transaction: ServerTransaction | null, peer: SipPeer): void;
  /** A response that matches no client transaction (a retransmitted 2xx to an INVITE). */
  onStrayResponse(response: SipResponse, peer: SipPeer): void;
}

/** Matches messages to transactions (§17.1.3, §17.2.3) and owns their timers. */
export class SipTransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  onResponseSentHook: ((response: SipResponse) => void) | null = null;

  constructor(
    private readonly send: SendFunction,
    readonly timers: SipTimers = DEFAULT_SIP_TIMERS,
  ) {}

  transmit(data: Buffer, peer: SipPeer): void {
    this.send(data, peer);
  }

  onResponseSent(response: SipResponse): void {
    this.onResponseSentHook?.(response);
  }

  get serverCount(): number {
    return this.servers.size;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  handleMessage(message: SipMessage, peer: SipPeer, tu: TransactionUser): void {
    if (message.kind === 'request') this.handleRequest(message, peer, tu);
    else this.handleResponse(message, peer, tu);
  }

  private handleRequest(request: SipRequest, peer: SipPeer, tu: TransactionUser): void {
    const key = serverKey(request);
    if (request.method === 'ACK') {
      const inviteTx = this.servers.get(serverKey(request, 'INVITE'));
      if (inviteTx) {
        inviteTx.onAck();
        return;
      }
      tu.onRequest(request, null, peer); // ACK for a 2xx: belongs to the dialog
      return;
    }
    const existing = this.servers.get(key);
    if (existing) {
      existing.onRetransmission();
      return;
    }
    const tx = new ServerTransaction(key, request, peer, this);
    this.servers.set(key, tx);
    tu.onRequest(request, tx, peer);
  }

  /** Finds the INVITE server transaction a CANCEL refers to (same branch, method INVITE). */
  findInviteFor(cancel: SipRequest): ServerTransaction | undefined {
    return this.servers.get(serverKey(cancel, 'INVITE'));
  }

  private handleResponse(response: SipResponse, peer: SipPeer, tu: TransactionUser): void {
    const via = parseVia(response.headers.get('Via') ?? '');
    const branch = via.params.get('branch') ?? '';
    const cseq = parseCSeq(response.headers.get('CSeq') ?? '');
    const tx = this.clients.get(`${branch}|${cseq.method}`);
    if (tx) tx.onResponse(response);
    else tu.onStrayResponse(response, peer);
  }

  /** Sends a request in a new client transaction. The request must carry a top Via with a fresh branch. */
  sendRequest(request: SipRequest, peer: SipPeer, handlers: ClientTransactionHandlers): ClientTransaction {
    const via = parseVia(request.headers.get('Via') ?? '');
    const key = `${via.params.get('branch') ?? ''}|${request.method}`;
    const tx = new ClientTransaction(key, request, peer, this, handlers);
    this.clients.set(key, tx);
    tx.start();
    return tx;
  }

  forgetServer(key: string): void {
    this.servers.delete(key);
  }

  forgetClient(key: string): void {
    this.clients.delete(key);
  }

  /** Stops every timer (shutdown). */
  close(): void {
    for (const tx of [...this.servers.values()]) tx.terminate();
    for (const tx of [...this.clients.values()]) tx.terminate();
  }
}

function serverKey(request: SipRequest, method = request.method): string {
  const via = parseVia(request.headers.get('Via') ?? '');
  const branch = via.params.get('branch') ?? '';
  if (branch.startsWith(RFC3261_BRANCH_PREFIX)) {
    return `${branch}|${via.host}:${via.port ?? 5060}|${method}`;
  }
  // RFC 2543 peers: fall back to Call-ID + CSeq number + From tag.
  const cseq = parseCSeq(request.headers.get('CSeq') ?? '');
  return `${request.headers.get('Call-ID')}|${cseq.seq}|${request.headers.get('From')}|${method}`;
}

export function buildResponse(
  request: SipRequest,
  status: number,
  reason: string,
  options: { toTag?: string; headers?: Array<[string, string]>; body?: Buffer; contentType?: string } = {},
): SipResponse {
  const headers = new SipHeaders();
  for (const via of request.headers.getAll('Via')) headers.append('Via', via);
  for (const rr of request.headers.getAll('Record-Route')) {
    if (status > 100 && status < 300) headers.append('Record-Route', rr);
  }
  headers.append('From', request.headers.get('From') ?? '');
  let to = request.headers.get('To') ?? '';
  if (options.toTag && status > 100 && !/;\s*tag=/i.test(to)) to += `;tag=${options.toTag}`;
  headers.append('To', to);
  headers.append('Call-ID', request.headers.get('Call-ID') ?? '');
  headers.append('CSeq', request.headers.get('CSeq') ?? '');
  for (const [name, value] of options.headers ?? []) headers.append(name, value);
  const body = options.body ?? Buffer.alloc(0);
  if (body.length > 0) headers.append('Content-Type', options.contentType ?? 'application/sdp');
  return { kind: 'response', status, reason, headers, body };
}

/** §17.1.1.3: the ACK for a non-2xx final response reuses the INVITE's branch and Request-URI. */
function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = new SipHeaders();
  headers.append('Via', invite.headers.get('Via') ?? '');
  for (const route of invite.headers.getAll('Route')) headers.append('Route', route);
  headers.append('Max-Forwards', '70');
  headers.append('From', invite.headers.get('From') ?? '');
  headers.append('To', response.headers.get('To') ?? '');
  headers.append('Call-ID', invite.headers.get('Call-ID') ?? '');
  headers.append('CSeq', `${parseCSeq(invite.headers.get('CSeq') ?? '').seq} ACK`);
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

/** Top Via for a request we send, NAT-correct: our external address and rport so replies come back. */
export function ourVia(transport: SipTransportName, host: string, port: number, branch = newBranch()): string {
  return formatVia({
    transport,
    host,
    port,
    params: new Map<string, string | null>([
      ['branch', branch],
      ['rport', null],
    ]),
  });
}
