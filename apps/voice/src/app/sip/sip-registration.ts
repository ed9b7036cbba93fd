// REGISTER with the carrier (RFC 3261 §10) when it authenticates us by credentials rather than by IP: digest
// answer to 401/407, refresh before expiry, retry after failures, un-REGISTER (Expires: 0) at shutdown.
import { Logger } from '@nestjs/common';
import { errorMessage } from '@sovren/resilience';
import {
  SipHeaders,
  buildDigestAuthorization,
  newTag,
  ourVia,
  parseDigestChallenge,
  type DigestCredentials,
  type SipPeer,
  type SipRequest,
  type SipResponse,
} from '@sovren/sip';
import { randomBytes } from 'node:crypto';

import type { SipUserAgent } from './sip-user-agent';

const RETRY_MS = 30_000;

export class SipRegistration {
  private readonly logger = new Logger(SipRegistration.name);
  private readonly callId = `${randomBytes(10).toString('hex')}@sovren`;
  private readonly fromTag = newTag();
  private cseq = 1;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly registrar: SipPeer;
  private readonly aor: string;

  constructor(
    private readonly ua: SipUserAgent,
    private readonly options: {
      registrar: string;
      credentials: DigestCredentials;
      expires: number;
      onState: (registered: boolean) => void;
    },
  ) {
    const [host, port] = options.registrar.split(':');
    this.registrar = { transport: 'UDP', address: host, port: port ? Number(port) : 5060 };
    this.aor = `sip:${options.credentials.username}@${host}`;
  }

  start(): void {
    this.send(this.options.expires, null, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await new Promise<void>((resolve) => {
      this.send(0, null, 0, resolve);
      setTimeout(resolve, 2_000).unref();
    });
    this.options.onState(false);
  }

  private send(
    expires: number,
    authorization: { header: string; value: string } | null,
    attempt: number,
    done?: () => void,
  ): void {
    const uri = `sip:${this.registrar.address}${this.registrar.port === 5060 ? '' : `:${this.registrar.port}`}`;
    const headers = new SipHeaders();
    headers.append('Via', ourVia('UDP', this.ua.externalHost, this.ua.port));
    headers.append('Max-Forwards', '70');
    headers.append('From', `<${this.aor}>;tag=${this.fromTag}`);
    headers.append('To', `<${this.aor}>`);
    headers.append('Call-ID', this.callId);
    headers.append('CSeq', `${this.cseq++} REGISTER`);
    headers.append('Contact', this.ua.contact(this.registrar));
    headers.append('Expires', String(expires));
    if (authorization) headers.append(authorization.header, authorization.value);
    const request: SipRequest = { kind: 'request', method: 'REGISTER', uri, headers, body: Buffer.alloc(0) };
    this.ua.sendClient(request, this.registrar, {
      onResponse: (response) => {
        if (response.status < 200) return;
        this.onFinal(response, request, expires, attempt, done);
      },
      onTimeout: () => {
        this.logger.warn({ msg: 'REGISTER timed out', registrar: this.registrar });
        this.options.onState(false);
        done?.();
        this.schedule(RETRY_MS);
      },
    });
  }

  private onFinal(
    response: SipResponse,
    request: SipRequest,
    expires: number,
    attempt: number,
    done?: () => void,
  ): void {
    if ((response.status === 401 || response.status === 407) && attempt === 0) {
      try {
        const challenge = parseDigestChallenge(
          response.headers.get(response.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate') ?? '',
        );
        const value = buildDigestAuthorization(challenge, this.options.credentials, 'REGISTER', request.uri);
        this.send(
          expires,
          { header: response.status === 401 ? 'Authorization' : 'Proxy-Authorization', value },
          attempt + 1,
          done,
        );
        return;
      } catch (error) {
        this.logger.error({ msg: 'cannot answer the registrar challenge', err: errorMessage(error) });
      }
    }
    done?.();
    if (response.status >= 200 && response.status < 300) {
      if (expires === 0) return;
      const granted = Number(
        /expires=(\d+)/i.exec(response.headers.get('Contact') ?? '')?.[1] ?? response.headers.get('Expires') ?? expires,
      );
      const seconds = Number.isFinite(granted) && granted > 0 ? granted : expires;
      this.options.onState(true);
      this.logger.log({ msg: 'registered with the carrier', registrar: this.registrar, expires: seconds });
      this.schedule(Math.max(5, seconds * 0.8) * 1000);
      return;
    }
    this.logger.warn({ msg: 'REGISTER refused', status: response.status, reason: response.reason });
    this.options.onState(false);
    this.schedule(RETRY_MS);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.send(this.options.expires, null, 0), ms);
    this.timer.unref();
  }
}
