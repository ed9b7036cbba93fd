// The SIP user agent core (RFC 3261 §8, §12-§15): dialogs for calls in both directions, re-INVITE, BYE, CANCEL,
// OPTIONS, session timers (RFC 4028) and digest answers to 401/407. It owns no call policy: a new inbound INVITE
// is handed to the CallHandler, which rings, answers or rejects it; every dialog reports to its SipCallLeg.
import { Logger } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import {
  SipHeaders,
  SipTransactionLayer,
  buildDigestAuthorization,
  buildResponse,
  formatNameAddr,
  formatSipUri,
  headerTag,
  newBranch,
  newTag,
  ourVia,
  parseCSeq,
  parseDigestChallenge,
  parseNameAddr,
  parseSipUri,
  serializeSipMessage,
  uriTransport,
  type ClientTransaction,
  type DigestCredentials,
  type ServerTransaction,
  type SipPeer,
  type SipRequest,
  type SipResponse,
  type SipTimers,
  type SipTransportName,
  type TransactionUser,
} from '@sovren/sip';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

export const ALLOWED_METHODS = 'INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, NOTIFY';
/** How long a transfer waits for the peer's NOTIFY with the new call's final status. */
const REFER_OUTCOME_TIMEOUT_MS = 32_000;

export type LegDirection = 'inbound' | 'outbound';
export type LegState = 'early' | 'confirmed' | 'terminated';
export type EndSide = 'remote' | 'local';

export interface LegEnd {
  side: EndSide;
  /** `bye`, `cancel`, `rejected`, `failed`, `timeout`, `session_expired`, `no_ack`, `local_hangup`… */
  cause: string;
  status?: number;
}

export interface SipUserAgentOptions {
  /** Host written in Via, Contact and SDP (the public address behind NAT). */
  externalHost: string;
  /** UDP/TCP port. */
  port: number;
  /** TLS port, 0 when TLS is not served. */
  tlsPort?: number;
  credentials: DigestCredentials | null;
  sessionExpires: number;
  timers: SipTimers;
  userAgent: string;
}

export interface CallHandler {
  /** A new INVITE passed the edge; the handler must ring, answer or reject `leg` (synchronously or later). */
  onIncomingCall(leg: SipCallLeg): void;
  /** Every response we send (metrics). */
  onResponseSent?(status: number): void;
}

/**
 * One call's dialog, both directions. Emits: `ringing` (outbound 180/183), `answered` (remote SDP), `confirmed`
 * (ACK got / sent), `reoffer` (re-INVITE SDP; the listener answers via `answerReoffer`), `dtmf` (SIP INFO),
 * `ended` (LegEnd).
 */
export class SipCallLeg extends EventEmitter {
  state: LegState = 'early';
  localTag: string;
  remoteTag: string | null = null;
  remoteTarget: string;
  routeSet: string[] = [];
  localCSeq = Math.floor(Math.random() * 10_000) + 1;
  remoteCSeq = -1;
  remoteSdp: string | null = null;
  localSdp: string | null = null;
  sessionExpires: number | null = null;
  /** `true` when we must refresh the session (re-INVITE at half time). */
  weRefresh = false;
  readonly createdAt = Date.now();
  inviteTx: ServerTransaction | null = null;
  clientInvite: ClientTransaction | null = null;
  private ok2xx: { data: Buffer; timer: NodeJS.Timeout | null } | null = null;
  private sessionTimer: NodeJS.Timeout | null = null;
  private authAttempts = 0;
  private cancelRequested = false;
  endInfo: LegEnd | null = null;

  constructor(
    readonly ua: SipUserAgent,
    readonly direction: LegDirection,
    readonly callId: string,
    /** Our URI and the remote URI as they appear in From/To. */
    readonly localUri: string,
    readonly remoteUri: string,
    public peer: SipPeer,
    readonly invite: SipRequest,
    public remoteFrom: string,
  ) {
    super();
    this.localTag = newTag();
    this.remoteTarget = remoteUri;
  }

  get key(): string {
    return this.callId;
  }

  /** The number dialled (Request-URI user part), for routing. */
  get dialled(): string {
    return userOf(this.direction === 'inbound' ? this.invite.uri : this.remoteUri);
  }

  get caller(): string {
    return userOf(this.direction === 'inbound' ? parseNameAddr(this.remoteFrom).uri : this.localUri);
  }

  // ---- inbound ----

  ring(): void {
    if (this.direction !== 'inbound' || this.state !== 'early' || !this.inviteTx) return;
    this.inviteTx.respond(180, 'Ringing', { toTag: this.localTag, headers: [['Contact', this.ua.contact(this.peer)]] });
  }

  answer(sdp: string): void {
    if (this.direction !== 'inbound' || this.state !== 'early' || !this.inviteTx) return;
    this.localSdp = sdp;
    const headers: Array<[string, string]> = [
      ['Contact', this.ua.contact(this.peer)],
      ['Allow', ALLOWED_METHODS],
      ['Supported', 'timer'],
    ];
    if (this.sessionExpires !== null) {
      headers.push(['Session-Expires', `${this.sessionExpires};refresher=uac`], ['Require', 'timer']);
    }
    const response = buildResponse(this.invite, 200, 'OK', {
      toTag: this.localTag,
      headers,
      body: Buffer.from(sdp),
      contentType: 'application/sdp',
    });
    this.inviteTx.sendResponse(response);
    this.state = 'confirmed';
    this.start2xxRetransmit(serializeSipMessage(response));
    this.armSessionTimer();
  }

  reject(status: number, reason: string, headers: Array<[string, string]> = [], cause = 'rejected'): void {
    if (this.direction !== 'inbound' || this.state !== 'early' || !this.inviteTx) return;
    this.inviteTx.respond(status, reason, { toTag: this.localTag, headers });
    this.finish({ side: 'local', cause, status });
  }

  onAck(): void {
    if (this.ok2xx) {
      if (this.ok2xx.timer) clearTimeout(this.ok2xx.timer);
      this.ok2xx = null;
      this.emit('confirmed');
    }
  }

  /** §13.3.1.4: retransmit our 2xx until the ACK comes; without one in 64*T1 the call is ended. */
  private start2xxRetransmit(data: Buffer): void {
    const t = this.ua.timers;
    this.ok2xx = { data, timer: null };
    const step = (interval: number, elapsed: number): void => {
      if (!this.ok2xx) return;
      if (elapsed >= 64 * t.t1) {
        this.ok2xx = null;
        this.hangup('no_ack');
        return;
      }
      this.ok2xx.timer = setTimeout(() => {
        if (!this.ok2xx) return;
        if (this.peer.transport === 'UDP') this.ua.transmit(this.ok2xx.data, this.peer);
        step(Math.min(interval * 2, t.t2), elapsed + interval);
      }, interval);
      this.ok2xx.timer.unref();
    };
    step(t.t1, 0);
  }

  /** Resends the 2xx when the INVITE is retransmitted after the transaction ended. */
  resend2xx(): void {
    if (this.ok2xx) this.ua.transmit(this.ok2xx.data, this.peer);
  }

  // ---- both directions ----

  /** Ends the call from our side: CANCEL before an outbound answer, 480 before an inbound one, else BYE. */
  hangup(cause = 'local_hangup'): void {
    if (this.state === 'terminated') return;
    if (this.state === 'early') {
      if (this.direction === 'inbound') {
        this.reject(480, 'Temporarily Unavailable', [], cause);
        return;
      }
      this.cancel(cause);
      return;
    }
    this.ua.sendInDialog(this, 'BYE', null, () => undefined);
    this.finish({ side: 'local', cause });
  }

  /**
   * Blind transfer (RFC 3515): asks the peer to call `target` itself (REFER), then follows its NOTIFYs until the new
   * call's final status. Resolves with that status (200: transferred; the caller then hangs this leg up), the
   * REFER's own failure status (e.g. 405/501 from a peer that does not transfer), or 408 when nothing final came.
   */
  refer(target: string): Promise<number> {
    if (this.state !== 'confirmed') return Promise.resolve(481);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (status: number) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.off('referStatus', onStatus);
        resolve(status);
      };
      const onStatus = (status: number) => {
        if (status >= 200) finish(status);
      };
      const timer = setTimeout(() => finish(408), REFER_OUTCOME_TIMEOUT_MS);
      timer.unref();
      this.on('referStatus', onStatus);
      this.ua.sendInDialog(
        this,
        'REFER',
        null,
        (status) => {
          if (status >= 300) finish(status);
        },
        [
          ['Refer-To', `<${target}>`],
          ['Referred-By', `<${this.direction === 'inbound' ? parseNameAddr(this.localUri).uri : this.localUri}>`],
        ],
      );
    });
  }

  /** Sends a re-INVITE with new SDP (hold/unhold or session refresh); resolves with the answer's status. */
  reinvite(sdp: string): Promise<number> {
    this.localSdp = sdp;
    return new Promise((resolve) => {
      this.ua.sendInDialog(this, 'INVITE', sdp, (status, response) => {
        if (status >= 200 && status < 300 && response) {
          this.ua.ackInDialog(this, response);
          if (response.body.length > 0) this.remoteSdp = response.body.toString('utf8');
        }
        resolve(status);
      });
    });
  }

  /** Answers a re-INVITE the listener of `reoffer` received. */
  answerReoffer(tx: ServerTransaction, request: SipRequest, sdp: string | null): void {
    if (sdp === null) {
      tx.respond(488, 'Not Acceptable Here');
      return;
    }
    this.localSdp = sdp;
    const headers: Array<[string, string]> = [['Contact', this.ua.contact(this.peer)]];
    if (this.sessionExpires !== null) headers.push(['Session-Expires', `${this.sessionExpires};refresher=uac`]);
    const response = buildResponse(request, 200, 'OK', {
      toTag: this.localTag,
      headers,
      body: Buffer.from(sdp),
      contentType: 'application/sdp',
    });
    tx.sendResponse(response);
    this.start2xxRetransmit(serializeSipMessage(response));
    this.armSessionTimer();
  }

  /** RFC 4028: the refresher must refresh before the interval ends; we end the call if nobody did. */
  armSessionTimer(): void {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    if (this.sessionExpires === null || this.state === 'terminated') return;
    const interval = this.sessionExpires * 1000;
    if (this.weRefresh) {
      this.sessionTimer = setTimeout(() => {
        if (this.localSdp) {
          this.reinvite(bumpSdpVersion(this.localSdp)).catch((error: unknown) => this.ua.logFailure(this, error));
        }
      }, interval / 2);
    } else {
      // §10: BYE at Session-Expires minus min(32 s, a third of it) when no refresh arrived.
      const margin = Math.min(32_000, interval / 3);
      this.sessionTimer = setTimeout(() => this.hangup('session_expired'), interval - margin);
    }
    this.sessionTimer.unref();
  }

  // ---- outbound ----

  /** Sends the INVITE (again with credentials after a 401/407). */
  sendInvite(sdp: string, authorization?: { header: string; value: string }): void {
    this.localSdp = sdp;
    const request = this.ua.buildOutOfDialog(this, 'INVITE', sdp, authorization);
    this.clientInvite = this.ua.sendClient(request, this.peer, {
      onResponse: (response) => this.onInviteResponse(response, request),
      onTimeout: () => this.finish({ side: 'remote', cause: 'timeout', status: 408 }),
    });
  }

  private onInviteResponse(response: SipResponse, request: SipRequest): void {
    const status = response.status;
    if (status < 200 && this.cancelRequested) {
      this.sendCancel(request);
      return;
    }
    if (this.state === 'terminated') {
      // A 2xx racing our CANCEL: confirm then end it at once (§9.1).
      if (status >= 200 && status < 300) {
        this.captureDialog(response);
        this.ua.ackInDialog(this, response);
        this.ua.sendInDialog(this, 'BYE', null, () => undefined);
      }
      return;
    }
    if (status < 200) {
      if (status === 180 || status === 183) this.emit('ringing', status);
      return;
    }
    if (status < 300) {
      this.captureDialog(response);
      this.ua.ackInDialog(this, response);
      this.state = 'confirmed';
      this.remoteSdp = response.body.length > 0 ? response.body.toString('utf8') : null;
      const se = response.headers.get('Session-Expires');
      if (se) {
        const match = /^(\d+)(.*refresher=(uac|uas))?/i.exec(se);
        if (match) {
          this.sessionExpires = Math.max(90, Number(match[1]));
          this.weRefresh = (match[3] ?? 'uac').toLowerCase() === 'uac';
        }
      }
      this.armSessionTimer();
      this.emit('answered', this.remoteSdp);
      this.emit('confirmed');
      return;
    }
    if ((status === 401 || status === 407) && this.authAttempts === 0 && this.ua.credentials) {
      this.authAttempts += 1;
      const header = status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate';
      try {
        const challenge = parseDigestChallenge(response.headers.get(header) ?? '');
        const value = buildDigestAuthorization(challenge, this.ua.credentials, 'INVITE', request.uri);
        this.localCSeq += 1;
        this.sendInvite(this.localSdp ?? '', {
          header: status === 401 ? 'Authorization' : 'Proxy-Authorization',
          value,
        });
        return;
      } catch (error) {
        this.ua.logFailure(this, error);
      }
    }
    this.finish({ side: 'remote', cause: this.cancelRequested ? 'cancel' : 'rejected', status });
  }

  private captureDialog(response: SipResponse): void {
    this.remoteTag = headerTag(response.headers.get('To'));
    const contact = response.headers.get('Contact');
    if (contact) this.remoteTarget = parseNameAddr(contact).uri;
    this.routeSet = response.headers.getAll('Record-Route').reverse();
  }

  cancel(cause = 'local_hangup'): void {
    if (this.direction !== 'outbound' || this.state !== 'early') return;
    this.cancelRequested = true;
    const tx = this.clientInvite;
    // §9.1: CANCEL only once a provisional arrived; otherwise it is sent when one does.
    if (tx && tx.state === 'proceeding') this.sendCancel(tx.request);
    this.finish({ side: 'local', cause });
  }

  private sendCancel(invite: SipRequest): void {
    const headers = new SipHeaders();
    headers.append('Via', invite.headers.get('Via') ?? '');
    headers.append('Max-Forwards', '70');
    headers.append('From', invite.headers.get('From') ?? '');
    headers.append('To', invite.headers.get('To') ?? '');
    headers.append('Call-ID', this.callId);
    headers.append('CSeq', `${parseCSeq(invite.headers.get('CSeq') ?? '').seq} CANCEL`);
    const cancel: SipRequest = { kind: 'request', method: 'CANCEL', uri: invite.uri, headers, body: Buffer.alloc(0) };
    this.ua.sendClient(cancel, this.peer, { onResponse: () => undefined, onTimeout: () => undefined });
  }

  finish(end: LegEnd): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.endInfo = end;
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    if (this.ok2xx?.timer) clearTimeout(this.ok2xx.timer);
    this.ok2xx = null;
    // Keep the dialog briefly so late retransmissions and a racing 2xx still find it.
    this.ua.retire(this);
    this.emit('ended', end);
  }
}

/** The user agent: the transaction layer's user and the owner of every dialog. */
export class SipUserAgent implements TransactionUser {
  private readonly logger = new Logger(SipUserAgent.name);
  readonly transactions: SipTransactionLayer;
  private readonly legs = new Map<string, SipCallLeg>();
  private readonly retired = new Map<string, SipCallLeg>();

  constructor(
    private readonly options: SipUserAgentOptions,
    private readonly send: (data: Buffer, peer: SipPeer) => void,
    private readonly handler: CallHandler,
  ) {
    this.transactions = new SipTransactionLayer(send, options.timers);
    this.transactions.onResponseSentHook = (response) => handler.onResponseSent?.(response.status);
  }

  get timers(): SipTimers {
    return this.options.timers;
  }

  get credentials(): DigestCredentials | null {
    return this.options.credentials;
  }

  get externalHost(): string {
    return this.options.externalHost;
  }

  get port(): number {
    return this.options.port;
  }

  /** Our port for a transport (TLS has its own). */
  portFor(transport: SipTransportName): number {
    return transport === 'TLS' && this.options.tlsPort ? this.options.tlsPort : this.options.port;
  }

  get activeLegs(): SipCallLeg[] {
    return [...this.legs.values()];
  }

  transmit(data: Buffer, peer: SipPeer): void {
    this.send(data, peer);
  }

  contact(peer: SipPeer): string {
    const transport = peer.transport === 'UDP' ? '' : `;transport=${peer.transport.toLowerCase()}`;
    return `<sip:sovren@${hostForUri(this.options.externalHost)}:${this.portFor(peer.transport)}${transport}>`;
  }

  logFailure(leg: SipCallLeg, error: unknown): void {
    this.logger.error({ msg: 'SIP call leg failure', callId: leg.callId, err: errorMessage(error) });
  }

  // ---- TransactionUser ----

  onRequest(request: SipRequest, tx: ServerTransaction | null, peer: SipPeer): void {
    const callId = request.headers.get('Call-ID') ?? '';
    const toTag = headerTag(request.headers.get('To'));
    const leg = this.legs.get(callId) ?? this.retired.get(callId);
    if (request.method === 'ACK') {
      if (leg) leg.onAck();
      return;
    }
    if (!tx) return;
    switch (request.method) {
      case 'OPTIONS':
        tx.respond(200, 'OK', {
          toTag: toTag ? undefined : newTag(),
          headers: [
            ['Allow', ALLOWED_METHODS],
            ['Accept', 'application/sdp'],
            ['Supported', 'timer'],
            ['Contact', this.contact(peer)],
          ],
        });
        return;
      case 'INVITE':
        if (toTag) this.onReinvite(request, tx, leg);
        else this.onNewInvite(request, tx, peer, leg);
        return;
      case 'BYE':
        if (!leg || leg.state === 'terminated' || !this.inDialog(leg, request)) {
          tx.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        tx.respond(200, 'OK');
        leg.finish({ side: 'remote', cause: 'bye' });
        return;
      case 'CANCEL':
        this.onCancel(request, tx, leg);
        return;
      case 'UPDATE':
        if (!leg || !this.inDialog(leg, request)) {
          tx.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        // A session refresh without SDP (RFC 4028 §7.4 via UPDATE).
        tx.respond(200, 'OK', {
          headers: leg.sessionExpires ? [['Session-Expires', `${leg.sessionExpires};refresher=uac`]] : [],
        });
        leg.armSessionTimer();
        return;
      case 'INFO': {
        if (!leg || !this.inDialog(leg, request)) {
          tx.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        tx.respond(200, 'OK');
        const signal = /Signal\s*=\s*([0-9*#A-D])/i.exec(request.body.toString('utf8'));
        if (signal) leg.emit('dtmf', signal[1].toUpperCase());
        return;
      }
      case 'NOTIFY': {
        // The progress of a transfer we asked for (RFC 3515 §2.4.5): a message/sipfrag status line.
        if (!leg || !this.inDialog(leg, request)) {
          tx.respond(481, 'Call/Transaction Does Not Exist');
          return;
        }
        tx.respond(200, 'OK');
        const event = (request.headers.get('Event') ?? '').trim().toLowerCase();
        const status = /^SIP\/2\.0\s+(\d{3})/.exec(request.body.toString('utf8').trim());
        if (event.startsWith('refer') && status) leg.emit('referStatus', Number(status[1]));
        return;
      }
      case 'REGISTER':
        // We are not a registrar.
        tx.respond(405, 'Method Not Allowed', { headers: [['Allow', ALLOWED_METHODS]] });
        return;
      default:
        tx.respond(501, 'Not Implemented', { headers: [['Allow', ALLOWED_METHODS]] });
    }
  }

  onStrayResponse(response: SipResponse): void {
    // A retransmitted 2xx to one of our INVITEs: ACK it again (§13.2.2.4).
    const cseq = parseCSeq(response.headers.get('CSeq') ?? '');
    const leg = this.legs.get(response.headers.get('Call-ID') ?? '');
    if (cseq.method === 'INVITE' && response.status >= 200 && response.status < 300 && leg) {
      this.ackInDialog(leg, response);
    }
  }

  private inDialog(leg: SipCallLeg, request: SipRequest): boolean {
    const fromTag = headerTag(request.headers.get('From'));
    const toTag = headerTag(request.headers.get('To'));
    const ok =
      (fromTag === leg.remoteTag && toTag === leg.localTag) || (toTag === leg.localTag && leg.remoteTag === null);
    if (!ok) return false;
    const seq = parseCSeq(request.headers.get('CSeq') ?? '').seq;
    if (request.method !== 'CANCEL') leg.remoteCSeq = Math.max(leg.remoteCSeq, seq);
    return true;
  }

  private onNewInvite(request: SipRequest, tx: ServerTransaction, peer: SipPeer, existing?: SipCallLeg): void {
    const callId = request.headers.get('Call-ID') ?? '';
    if (existing) {
      // The same INVITE again after our 2xx ended its transaction (or a loop): resend what we have.
      existing.resend2xx();
      if (existing.direction === 'inbound' && existing.invite.headers.get('CSeq') === request.headers.get('CSeq')) {
        tx.terminate();
        return;
      }
      tx.respond(482, 'Loop Detected');
      return;
    }
    tx.respond(100, 'Trying');
    const from = request.headers.get('From') ?? '';
    const leg = new SipCallLeg(
      this,
      'inbound',
      callId,
      request.headers.get('To') ?? '',
      parseNameAddr(from).uri,
      peer,
      request,
      from,
    );
    leg.remoteTag = headerTag(from);
    leg.remoteCSeq = parseCSeq(request.headers.get('CSeq') ?? '').seq;
    const contact = request.headers.get('Contact');
    if (contact) leg.remoteTarget = parseNameAddr(contact).uri;
    leg.routeSet = request.headers.getAll('Record-Route');
    leg.inviteTx = tx;
    leg.remoteSdp = request.body.length > 0 ? request.body.toString('utf8') : null;
    const se = request.headers.get('Session-Expires');
    if (se) {
      const value = Number(/^\s*(\d{1,6})/.exec(se)?.[1] ?? NaN);
      if (Number.isFinite(value)) {
        if (value < 90) {
          tx.respond(422, 'Session Interval Too Small', { toTag: leg.localTag, headers: [['Min-SE', '90']] });
          return;
        }
        leg.sessionExpires = Math.min(value, this.options.sessionExpires);
      }
    }
    this.legs.set(callId, leg);
    try {
      this.handler.onIncomingCall(leg);
    } catch (error) {
      this.logger.error({ msg: 'incoming call handler failed', callId, err: errorMessage(error) });
      leg.reject(500, 'Server Internal Error');
    }
  }

  private onReinvite(request: SipRequest, tx: ServerTransaction, leg?: SipCallLeg): void {
    if (!leg || leg.state !== 'confirmed' || !this.inDialog(leg, request)) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    const se = request.headers.get('Session-Expires');
    if (se && leg.sessionExpires !== null) {
      const value = Number(/^\s*(\d{1,6})/.exec(se)?.[1] ?? NaN);
      if (Number.isFinite(value) && value >= 90) leg.sessionExpires = Math.min(value, this.options.sessionExpires);
    }
    const offer = request.body.length > 0 ? request.body.toString('utf8') : null;
    if (offer === null) {
      // Offer-less re-INVITE (a refresh): answer with our current SDP.
      leg.answerReoffer(tx, request, leg.localSdp);
      return;
    }
    leg.remoteSdp = offer;
    if (leg.listenerCount('reoffer') === 0) {
      leg.answerReoffer(tx, request, leg.localSdp);
      return;
    }
    leg.emit('reoffer', offer, (answer: string | null) => leg.answerReoffer(tx, request, answer));
  }

  private onCancel(request: SipRequest, tx: ServerTransaction, leg?: SipCallLeg): void {
    const inviteTx = this.transactions.findInviteFor(request);
    if (!inviteTx) {
      tx.respond(481, 'Call/Transaction Does Not Exist');
      return;
    }
    tx.respond(200, 'OK');
    if (leg && leg.state === 'early' && leg.direction === 'inbound') {
      inviteTx.respond(487, 'Request Terminated', { toTag: leg.localTag });
      leg.finish({ side: 'remote', cause: 'cancel', status: 487 });
    }
  }

  // ---- outbound ----

  /** Starts an outbound call to `target` (a SIP URI) through `proxy`; listen to the leg, then `sendInvite(sdp)`. */
  createOutboundLeg(options: { target: string; from: string; proxy: SipPeer; displayName?: string }): SipCallLeg {
    const callId = `${randomBytes(12).toString('hex')}@${this.options.externalHost}`;
    const invite: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: options.target,
      headers: new SipHeaders(),
      body: Buffer.alloc(0),
    };
    const leg = new SipCallLeg(this, 'outbound', callId, options.from, options.target, options.proxy, invite, '');
    leg.sessionExpires = this.options.sessionExpires;
    leg.weRefresh = true;
    this.legs.set(callId, leg);
    return leg;
  }

  buildOutOfDialog(
    leg: SipCallLeg,
    method: string,
    sdp: string | null,
    authorization?: { header: string; value: string },
  ): SipRequest {
    const headers = new SipHeaders();
    headers.append('Via', ourVia(leg.peer.transport, this.options.externalHost, this.portFor(leg.peer.transport)));
    headers.append('Max-Forwards', '70');
    headers.append(
      'From',
      formatNameAddr({ displayName: null, uri: leg.localUri, params: new Map([['tag', leg.localTag]]) }),
    );
    headers.append('To', formatNameAddr({ displayName: null, uri: leg.remoteUri, params: new Map() }));
    headers.append('Call-ID', leg.callId);
    headers.append('CSeq', `${leg.localCSeq} ${method}`);
    headers.append('Contact', this.contact(leg.peer));
    headers.append('Allow', ALLOWED_METHODS);
    headers.append('Supported', 'timer');
    headers.append('User-Agent', this.options.userAgent);
    if (method === 'INVITE' && leg.sessionExpires) {
      headers.append('Session-Expires', `${leg.sessionExpires};refresher=uac`);
      headers.append('Min-SE', '90');
    }
    if (authorization) headers.append(authorization.header, authorization.value);
    const body = sdp === null ? Buffer.alloc(0) : Buffer.from(sdp);
    if (sdp !== null) headers.append('Content-Type', 'application/sdp');
    return { kind: 'request', method, uri: leg.remoteUri, headers, body };
  }

  sendClient(
    request: SipRequest,
    peer: SipPeer,
    handlers: { onResponse(response: SipResponse): void; onTimeout(): void },
  ): ClientTransaction {
    return this.transactions.sendRequest(request, peer, handlers);
  }

  /** Builds and sends a request inside `leg`'s dialog (BYE, re-INVITE, INFO); `done` gets the final status. */
  sendInDialog(
    leg: SipCallLeg,
    method: string,
    sdp: string | null,
    done: (status: number, response: SipResponse | null) => void,
    extraHeaders: Array<[string, string]> = [],
  ): void {
    leg.localCSeq += 1;
    const request = this.inDialogRequest(leg, method, `${leg.localCSeq} ${method}`, sdp);
    for (const [name, value] of extraHeaders) request.headers.append(name, value);
    this.transactions.sendRequest(request, this.targetOf(leg), {
      onResponse: (response) => {
        if (response.status >= 200) done(response.status, response);
      },
      onTimeout: () => done(408, null),
    });
  }

  ackInDialog(leg: SipCallLeg, response: SipResponse): void {
    const seq = parseCSeq(response.headers.get('CSeq') ?? '').seq;
    const ack = this.inDialogRequest(leg, 'ACK', `${seq} ACK`, null);
    this.send(serializeSipMessage(ack), this.targetOf(leg));
  }

  private inDialogRequest(leg: SipCallLeg, method: string, cseq: string, sdp: string | null): SipRequest {
    const headers = new SipHeaders();
    const transport = this.targetOf(leg).transport;
    headers.append('Via', ourVia(transport, this.options.externalHost, this.portFor(transport), newBranch()));
    headers.append('Max-Forwards', '70');
    const local = formatNameAddr({
      displayName: null,
      uri: leg.direction === 'inbound' ? parseNameAddr(leg.localUri).uri : leg.localUri,
      params: new Map([['tag', leg.localTag]]),
    });
    const remote = formatNameAddr({
      displayName: null,
      uri: leg.direction === 'inbound' ? leg.remoteUri : leg.remoteUri,
      params: new Map(leg.remoteTag ? [['tag', leg.remoteTag]] : []),
    });
    headers.append('From', local);
    headers.append('To', remote);
    headers.append('Call-ID', leg.callId);
    headers.append('CSeq', cseq);
    for (const route of leg.routeSet) headers.append('Route', route);
    if (method === 'INVITE' || method === 'UPDATE' || method === 'REFER')
      headers.append('Contact', this.contact(leg.peer));
    if (method === 'INVITE' && leg.sessionExpires) {
      headers.append('Session-Expires', `${leg.sessionExpires};refresher=${leg.weRefresh ? 'uac' : 'uas'}`);
    }
    headers.append('User-Agent', this.options.userAgent);
    const body = sdp === null ? Buffer.alloc(0) : Buffer.from(sdp);
    if (sdp !== null) headers.append('Content-Type', 'application/sdp');
    return { kind: 'request', method, uri: leg.remoteTarget, headers, body };
  }

  /** In-dialog requests go to the first route (loose routing) or the remote target, over the dialog's transport. */
  private targetOf(leg: SipCallLeg): SipPeer {
    const first = leg.routeSet[0];
    const uriText = first ? parseNameAddr(first).uri : leg.remoteTarget;
    try {
      const uri = parseSipUri(uriText);
      const { transport, port } = uriTransport(uri, leg.peer.transport);
      return { transport, address: uri.host, port };
    } catch (error) {
      this.logger.warn({
        msg: 'unusable remote target, using the signalling peer',
        callId: leg.callId,
        err: errorMessage(error),
      });
      return leg.peer;
    }
  }

  retire(leg: SipCallLeg): void {
    if (this.legs.get(leg.callId) === leg) this.legs.delete(leg.callId);
    this.retired.set(leg.callId, leg);
    const timer = setTimeout(() => {
      if (this.retired.get(leg.callId) === leg) this.retired.delete(leg.callId);
    }, 32_000);
    timer.unref();
  }

  close(): void {
    this.transactions.close();
  }
}

function userOf(uri: string): string {
  try {
    return parseSipUri(uri).user ?? '';
  } catch {
    return '';
  }
}

function hostForUri(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function bumpSdpVersion(sdp: string): string {
  return sdp.replace(/^(o=\S+ \S+ )(\d+)/m, (_m, head: string, version: string) => `${head}${Number(version) + 1}`);
}

export { formatSipUri };
