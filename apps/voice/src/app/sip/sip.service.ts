// The voice service's SIP endpoint: the UDP/TCP transport, the hostile edge and the user agent, started with the
// app and stopped after the calls service has hung everything up. Calls policy is set with setCallHandler().
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { errorMessage } from '@sovren/resilience';
import {
  DEFAULT_SIP_TIMERS,
  parseSipUri,
  serializeSipMessage,
  uriTransport,
  type SipPeer,
  type SipTimers,
} from '@sovren/sip';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

import { VOICE_ENV, VoiceEnv } from '../voice-config/voice.env';
import { VoiceMetrics } from '../voice.metrics';
import { SipEdge } from './sip-edge';
import { SipRegistration } from './sip-registration';
import { SipTransport, type SipTlsOptions } from './sip-transport';
import { SipUserAgent, type CallHandler, type SipCallLeg } from './sip-user-agent';

@Injectable()
export class SipService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(SipService.name);
  private readonly edge: SipEdge;
  private readonly transport: SipTransport;
  private ua: SipUserAgent | null = null;
  private handler: CallHandler | null = null;
  private registration: SipRegistration | null = null;
  readonly externalHost: string;
  private readonly proxy: SipPeer | null;

  constructor(
    @Inject(VOICE_ENV) private readonly env: VoiceEnv,
    private readonly metrics: VoiceMetrics,
    private readonly platform: PlatformConfig,
  ) {
    this.edge = new SipEdge({
      trustedNetworks: env.SOVREN_VOICE_TRUSTED_SIP_NETWORKS,
      ratePerSecond: env.SOVREN_VOICE_SIP_RATE_LIMIT_PER_SECOND,
    });
    this.transport = new SipTransport(
      (data, peer) => this.onDatagram(data, peer),
      (peer, error) => {
        this.metrics.sipRefused.labels('malformed').inc();
        this.logger.warn({ msg: 'broken SIP stream, connection closed', peer, err: error.message });
      },
    );
    this.externalHost = env.SOVREN_VOICE_EXTERNAL_ADDRESS || defaultAddress(env.SOVREN_VOICE_SIP_BIND);
    this.proxy = this.parseOutboundProxy();
  }

  setCallHandler(handler: CallHandler): void {
    this.handler = handler;
  }

  get userAgent(): SipUserAgent {
    if (!this.ua) throw new Error('the SIP user agent is not started');
    return this.ua;
  }

  get port(): number {
    return this.transport.localPort;
  }

  async onModuleInit(): Promise<void> {
    await this.transport.listen(
      this.env.SOVREN_VOICE_SIP_BIND,
      this.env.SOVREN_VOICE_SIP_PORT,
      this.env.SOVREN_VOICE_SIP_TCP === 'true',
      this.tlsOptions(),
    );
    const credentials = this.env.SOVREN_VOICE_SIP_USERNAME
      ? { username: this.env.SOVREN_VOICE_SIP_USERNAME, password: this.env.SOVREN_VOICE_SIP_PASSWORD }
      : null;
    this.ua = new SipUserAgent(
      {
        externalHost: this.externalHost,
        port: this.transport.localPort,
        tlsPort: this.transport.tlsPort,
        credentials,
        sessionExpires: this.env.SOVREN_VOICE_SESSION_EXPIRES_SECONDS,
        timers: sipTimers(this.env.SOVREN_VOICE_SIP_T1_MS),
        userAgent: `SOVREN/${this.platform.version}`,
      },
      (data, peer) => this.transport.send(data, peer),
      {
        onIncomingCall: (leg: SipCallLeg) => {
          if (!this.handler) {
            leg.reject(503, 'Service Unavailable');
            return;
          }
          this.handler.onIncomingCall(leg);
        },
        onResponseSent: (status) => this.metrics.sipResponses.labels(String(status)).inc(),
      },
    );
    this.logger.log({
      msg: 'SIP listening',
      port: this.transport.localPort,
      externalHost: this.externalHost,
      tcp: this.env.SOVREN_VOICE_SIP_TCP === 'true',
      tlsPort: this.transport.tlsPort || null,
    });
    if (this.env.SOVREN_VOICE_SIP_REGISTRAR && credentials) {
      this.registration = new SipRegistration(this.ua, {
        registrar: this.env.SOVREN_VOICE_SIP_REGISTRAR,
        credentials,
        expires: this.env.SOVREN_VOICE_SIP_REGISTER_EXPIRES_SECONDS,
        onState: (registered) => this.metrics.registered.set(registered ? 1 : 0),
      });
      this.registration.start();
    }
  }

  /** The certificate and key of SIP over TLS, read once at start; undefined when TLS is not configured. */
  private tlsOptions(): SipTlsOptions | undefined {
    const certFile = this.env.SOVREN_VOICE_SIP_TLS_CERT_FILE;
    const keyFile = this.env.SOVREN_VOICE_SIP_TLS_KEY_FILE;
    if (!certFile || !keyFile) return undefined;
    const read = (variable: string, file: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (error) {
        throw new Error(`${variable}: cannot read ${file}: ${errorMessage(error)}`);
      }
    };
    const caFile = this.env.SOVREN_VOICE_SIP_TLS_CA_FILE;
    return {
      cert: read('SOVREN_VOICE_SIP_TLS_CERT_FILE', certFile),
      key: read('SOVREN_VOICE_SIP_TLS_KEY_FILE', keyFile),
      port: this.env.SOVREN_VOICE_SIP_TLS_PORT,
      ...(caFile ? { ca: read('SOVREN_VOICE_SIP_TLS_CA_FILE', caFile) } : {}),
    };
  }

  /** The carrier proxy for outbound calls, or null when none is configured. */
  outboundProxy(): SipPeer | null {
    return this.proxy;
  }

  /** SOVREN_VOICE_SIP_OUTBOUND_PROXY (`host[:port][;transport=…]`) read as a SIP URI's host part, once. */
  private parseOutboundProxy(): SipPeer | null {
    const value = this.env.SOVREN_VOICE_SIP_OUTBOUND_PROXY;
    if (!value) return null;
    try {
      const uri = parseSipUri(`sip:${value}`);
      return { ...uriTransport(uri, 'UDP'), address: uri.host };
    } catch (error) {
      this.logger.warn({
        msg: 'SOVREN_VOICE_SIP_OUTBOUND_PROXY is not host[:port][;transport=…]: outbound calls are off',
        value,
        err: errorMessage(error),
      });
      return null;
    }
  }

  private onDatagram(data: Buffer, peer: SipPeer): void {
    try {
      const verdict = this.edge.inspect(data, peer);
      if (verdict.reply) {
        this.transport.send(verdict.reply, peer);
        const status = Number(verdict.reply.toString('latin1', 8, 11));
        if (Number.isInteger(status)) this.metrics.sipResponses.labels(String(status)).inc();
      }
      if (verdict.refused) {
        this.metrics.sipRefused.labels(verdict.refused).inc();
        return;
      }
      const message = verdict.message;
      if (!message || !this.ua) return;
      if (message.kind === 'request') this.metrics.sipRequests.labels(message.method).inc();
      this.ua.transactions.handleMessage(message, peer, this.ua);
    } catch (error) {
      // Our own bug on hostile input must never take the service down: log it with the bytes' size and go on.
      this.logger.error({ msg: 'SIP message handling failed', peer, bytes: data.length, err: errorMessage(error) });
      this.metrics.sipRefused.labels('malformed').inc();
    }
  }

  /** Sends the raw bytes of a message (tests of the edge use the real socket through this). */
  sendRaw(message: Parameters<typeof serializeSipMessage>[0], peer: SipPeer): void {
    this.transport.send(serializeSipMessage(message), peer);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registration?.stop();
    this.ua?.close();
    await this.transport.close();
  }
}

/** RFC 3261 timers scaled from T1 (T2 = 8 T1, T4 = 10 T1, the RFC's ratios); 500 ms gives the RFC defaults. */
function sipTimers(t1: number): SipTimers {
  if (t1 === DEFAULT_SIP_TIMERS.t1) return DEFAULT_SIP_TIMERS;
  return { t1, t2: t1 * 8, t4: t1 * 10 };
}

/** The first non-internal IPv4 address (or loopback when bound to it): what peers can reach us at. */
function defaultAddress(bind: string): string {
  if (bind !== '0.0.0.0' && bind !== '::') return bind;
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      if (entry.family === 'IPv4' && !entry.internal) return entry.address;
    }
  }
  return '127.0.0.1';
}
