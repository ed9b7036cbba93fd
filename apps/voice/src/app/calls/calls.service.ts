// The call state machine, both directions: routing an inbound INVITE by the dialled number to its application,
// placing outbound calls, SDP offer/answer, one RtpSession per call handed to the media application, limits
// (concurrent calls, duration), the call record, CALLS events and the usage event. A shutdown hangs every call up.
// An application's media is the voice agent (a live conversation), echo, a WAV prompt (then hang up), or record
// (prompt first when it has one); any call of an application with recording on is recorded too.
import {
  BeforeApplicationShutdown,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleInit,
} from '@nestjs/common';
import { PlatformConfig } from '@sovren/config';
import { ApiError, ApiErrorCode } from '@sovren/http';
import { errorMessage } from '@sovren/resilience';
import {
  createRtpPortPool,
  playWav,
  RtpSession,
  RtpSessionClosedError,
  startEcho,
  type MediaFormat,
  type RtpPortPool,
} from '@sovren/rtp';
import {
  answerDirection,
  buildSdp,
  negotiateAudio,
  parseSdp,
  SipParseError,
  type NegotiatedMedia,
  type SdpDirection,
} from '@sovren/sip';
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, relative } from 'node:path';

import { VoiceAgentService } from '../agent/voice-agent.service';
import { RecordingStore, type ActiveRecording } from '../media/recording-store';
import { VoiceMediaMetrics } from '../media/voice-media.metrics';
import { ApplicationsRepository, type VoiceApplication } from '../numbers/applications.repository';
import { PhoneNumbersRepository } from '../numbers/phone-numbers.repository';
import type { LegEnd, SipCallLeg } from '../sip/sip-user-agent';
import { SipService } from '../sip/sip.service';
import { VOICE_ENV, VoiceEnv } from '../voice-config/voice.env';
import { VoiceMetrics, type CallResult } from '../voice.metrics';
import { CallEventsPublisher } from './call-events.publisher';
import { CallRecordsRepository, type CallDirection, type CallRecord } from './call-records.repository';

const E164 = /^\+[1-9]\d{6,14}$/;
const OFFERED_CODECS = [
  { payloadType: 0, name: 'PCMU' as const },
  { payloadType: 8, name: 'PCMA' as const },
];
const TELEPHONE_EVENT_PT = 101;

/** One live call. */
export class ActiveCall {
  state: 'ringing' | 'answered' | 'ended' = 'ringing';
  media: RtpSession | null = null;
  format: MediaFormat | null = null;
  answeredAt: number | null = null;
  stopMediaApp: (() => void) | null = null;
  /** The recording in progress (recording on, or the `record` application); finished when the call ends. */
  recording: Promise<ActiveRecording | null> | null = null;
  maxDurationTimer: NodeJS.Timeout | null = null;
  sdpVersion = 1;
  readonly inviteAt = Date.now();
  /** Resolves once the record and events of the end are written. */
  ended: Promise<void> | null = null;

  constructor(
    readonly id: string,
    readonly direction: CallDirection,
    readonly leg: SipCallLeg,
    readonly from: string,
    readonly to: string,
    readonly application: VoiceApplication | null,
  ) {}
}

/** Normalises a dialled or presented number to E.164 (`15551230000` → `+15551230000`); '' when it is none. */
export function toE164(raw: string): string {
  const digits = raw.replace(/[\s().-]/g, '');
  const withPlus = digits.startsWith('+') ? digits : `+${digits}`;
  return E164.test(withPlus) ? withPlus : '';
}

@Injectable()
export class CallsService implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CallsService.name);
  private readonly calls = new Map<string, ActiveCall>();
  private pool: RtpPortPool | null = null;
  private shuttingDown = false;

  constructor(
    @Inject(VOICE_ENV) private readonly env: VoiceEnv,
    private readonly sip: SipService,
    private readonly records: CallRecordsRepository,
    private readonly numbers: PhoneNumbersRepository,
    private readonly applications: ApplicationsRepository,
    private readonly events: CallEventsPublisher,
    private readonly metrics: VoiceMetrics,
    private readonly recordings: RecordingStore,
    private readonly mediaMetrics: VoiceMediaMetrics,
    private readonly platform: PlatformConfig,
    private readonly agent: VoiceAgentService,
  ) {}

  onModuleInit(): void {
    this.pool = createRtpPortPool({
      min: this.env.SOVREN_VOICE_RTP_PORT_MIN,
      max: this.env.SOVREN_VOICE_RTP_PORT_MAX,
      bindAddress: this.env.SOVREN_VOICE_SIP_BIND,
    });
    this.sip.setCallHandler({ onIncomingCall: (leg) => void this.onIncomingCall(leg) });
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      const closed = await this.records.closeOrphans();
      if (closed > 0) this.logger.warn({ msg: 'closed call records an earlier run left open', calls: closed });
    } catch (error) {
      this.logger.error({ msg: 'cannot close orphaned call records', err: errorMessage(error) });
    }
  }

  get activeCount(): number {
    return this.calls.size;
  }

  find(id: string): ActiveCall | undefined {
    return this.calls.get(id);
  }

  // ---- inbound ----

  private async onIncomingCall(leg: SipCallLeg): Promise<void> {
    if (this.shuttingDown) {
      leg.reject(503, 'Service Unavailable');
      return;
    }
    if (this.calls.size >= this.env.SOVREN_VOICE_MAX_CONCURRENT_CALLS) {
      leg.reject(486, 'Busy Here');
      this.metrics.calls.labels('inbound', 'busy').inc();
      return;
    }
    const to = toE164(leg.dialled);
    const from = toE164(leg.caller) || leg.caller.slice(0, 64) || 'anonymous';
    let negotiated: NegotiatedMedia | null = null;
    try {
      negotiated = leg.remoteSdp === null ? null : negotiateAudio(parseSdp(leg.remoteSdp));
    } catch (error) {
      if (!(error instanceof SipParseError)) throw error;
      this.logger.warn({ msg: 'unreadable SDP offer, answering 488', sipCallId: leg.callId, err: error.message });
    }
    if (!negotiated) {
      leg.reject(488, 'Not Acceptable Here');
      this.metrics.calls.labels('inbound', 'rejected').inc();
      return;
    }
    // Reserve the slot before the first await so concurrent INVITEs cannot overshoot the limit.
    const placeholder = new ActiveCall(randomUUID(), 'inbound', leg, from, to, null);
    this.calls.set(placeholder.id, placeholder);
    let application: VoiceApplication | null = null;
    try {
      const number = to ? await this.numbers.findActive(to) : null;
      if (!number) {
        this.calls.delete(placeholder.id);
        leg.reject(404, 'Not Found');
        this.metrics.calls.labels('inbound', 'rejected').inc();
        return;
      }
      application = number.applicationId ? await this.applications.find(number.applicationId) : null;
    } catch (error) {
      this.calls.delete(placeholder.id);
      this.logger.error({ msg: 'routing failed', sipCallId: leg.callId, err: errorMessage(error) });
      leg.reject(503, 'Service Unavailable');
      this.metrics.calls.labels('inbound', 'failed').inc();
      return;
    }
    this.calls.delete(placeholder.id);
    if (!application) {
      leg.reject(480, 'Temporarily Unavailable');
      this.metrics.calls.labels('inbound', 'rejected').inc();
      return;
    }
    if (leg.state !== 'early') return; // CANCELled while we looked the number up
    const call = new ActiveCall(placeholder.id, 'inbound', leg, from, to, application);
    this.calls.set(call.id, call);
    this.metrics.activeCalls.labels('inbound').inc();
    this.watchLeg(call);
    try {
      await this.records.create({
        id: call.id,
        direction: 'inbound',
        from,
        to,
        applicationId: application.id,
        ownerId: application.ownerId,
        sipCallId: leg.callId,
      });
    } catch (error) {
      this.logger.error({ msg: 'cannot write the call record', callId: call.id, err: errorMessage(error) });
    }
    this.publish(call, 'ringing');
    if (leg.state !== 'early') return;
    leg.ring();
    if (application.ringSeconds > 0) {
      await new Promise<void>((resolve) => {
        const onEnded = (): void => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          leg.off('ended', onEnded);
          resolve();
        }, application.ringSeconds * 1000);
        leg.once('ended', onEnded);
      });
      if (leg.state !== 'early') return;
    }
    try {
      call.media = await RtpSession.open({
        pool: this.requirePool(),
        callId: call.id,
        remote: { address: negotiated.remoteAddress, port: negotiated.remotePort },
        format: formatOf(negotiated),
        timeoutMs: this.env.SOVREN_VOICE_RTP_TIMEOUT_S * 1000,
      });
    } catch (error) {
      this.logger.error({ msg: 'no media ports for the call', callId: call.id, err: errorMessage(error) });
      leg.reject(503, 'Service Unavailable');
      return;
    }
    if (leg.state !== 'early') {
      await this.closeMedia(call);
      return;
    }
    call.format = formatOf(negotiated);
    leg.answer(this.sdpFor(call, negotiated.telephoneEventPayloadType, answerDirection(negotiated.remoteDirection)));
    this.onAnswered(call, negotiated);
  }

  // ---- outbound ----

  async placeCall(
    request: { to: string; from: string; applicationId: string },
    ownerId: string,
  ): Promise<CallRecord | { id: string }> {
    const to = toE164(request.to);
    const from = toE164(request.from);
    if (!to || to !== request.to)
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        ApiErrorCode.VALIDATION_FAILED,
        '`to` must be an E.164 number (+15551230000)',
      );
    if (!from || from !== request.from)
      throw new ApiError(
        HttpStatus.BAD_REQUEST,
        ApiErrorCode.VALIDATION_FAILED,
        '`from` must be an E.164 number (+15551230000)',
      );
    const number = await this.numbers.findActive(from);
    if (!number || (number.ownerId !== null && number.ownerId !== ownerId)) {
      throw new ApiError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        ApiErrorCode.UNPROCESSABLE,
        '`from` is not one of your phone numbers',
      );
    }
    const application = await this.applications.find(request.applicationId);
    if (!application || application.ownerId !== ownerId) {
      throw new ApiError(HttpStatus.NOT_FOUND, ApiErrorCode.NOT_FOUND, 'no such application');
    }
    const proxy = this.sip.outboundProxy();
    if (!proxy) {
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'outbound calling is not configured (SOVREN_VOICE_SIP_OUTBOUND_PROXY)',
      );
    }
    if (this.shuttingDown || this.calls.size >= this.env.SOVREN_VOICE_MAX_CONCURRENT_CALLS) {
      this.metrics.calls.labels('outbound', 'busy').inc();
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        ApiErrorCode.SERVICE_UNAVAILABLE,
        'too many calls in progress',
      );
    }
    const host = proxy.address.includes(':') ? `[${proxy.address}]` : proxy.address;
    const leg = this.sip.userAgent.createOutboundLeg({
      target: `sip:${to}@${host}:${proxy.port}`,
      from: `sip:${from}@${this.sip.externalHost}`,
      proxy,
    });
    const call = new ActiveCall(randomUUID(), 'outbound', leg, from, to, application);
    this.calls.set(call.id, call);
    this.metrics.activeCalls.labels('outbound').inc();
    try {
      call.media = await RtpSession.open({
        pool: this.requirePool(),
        callId: call.id,
        timeoutMs: this.env.SOVREN_VOICE_RTP_TIMEOUT_S * 1000,
      });
    } catch (error) {
      this.calls.delete(call.id);
      this.metrics.activeCalls.labels('outbound').dec();
      leg.finish({ side: 'local', cause: 'failed' });
      this.logger.error({ msg: 'no media ports for the call', callId: call.id, err: errorMessage(error) });
      throw new ApiError(HttpStatus.SERVICE_UNAVAILABLE, ApiErrorCode.SERVICE_UNAVAILABLE, 'no media ports free');
    }
    try {
      await this.records.create({
        id: call.id,
        direction: 'outbound',
        from,
        to,
        applicationId: application.id,
        ownerId,
        sipCallId: leg.callId,
      });
    } catch (error) {
      // No record, no call: give the ports and the slot back before telling the caller.
      this.calls.delete(call.id);
      this.metrics.activeCalls.labels('outbound').dec();
      leg.finish({ side: 'local', cause: 'failed' });
      await this.closeMedia(call);
      this.logger.error({ msg: 'cannot write the call record', callId: call.id, err: errorMessage(error) });
      throw new ApiError(HttpStatus.SERVICE_UNAVAILABLE, ApiErrorCode.SERVICE_UNAVAILABLE, 'call records unavailable');
    }
    this.watchLeg(call);
    leg.on('ringing', () => {
      if (call.state !== 'ringing') return;
      void this.records
        .event(call.id, 'remote_ringing', 'ringing')
        .catch((error: unknown) => this.logDbError(call, error));
    });
    leg.on('answered', (sdp: string | null) => {
      let negotiated: NegotiatedMedia | null = null;
      try {
        negotiated = sdp === null ? null : negotiateAudio(parseSdp(sdp));
      } catch (error) {
        this.logger.warn({ msg: 'unreadable SDP answer', callId: call.id, err: errorMessage(error) });
      }
      if (!negotiated || !call.media) {
        leg.hangup('incompatible_media');
        return;
      }
      call.media.setRemote(negotiated.remoteAddress, negotiated.remotePort);
      call.format = formatOf(negotiated);
      call.media.setFormat(call.format);
      this.onAnswered(call, negotiated);
    });
    this.publish(call, 'ringing');
    leg.sendInvite(this.sdpFor(call, TELEPHONE_EVENT_PT, 'sendrecv', true));
    try {
      return (await this.records.get(call.id)) ?? { id: call.id };
    } catch (error) {
      // The call is placed; only reading its row back failed: answer with the id the caller can poll.
      this.logDbError(call, error);
      return { id: call.id };
    }
  }

  // ---- both ----

  private onAnswered(call: ActiveCall, negotiated: NegotiatedMedia): void {
    if (call.state !== 'ringing' || !call.media) return;
    call.state = 'answered';
    call.answeredAt = Date.now();
    this.metrics.setupSeconds.labels(call.direction).observe((call.answeredAt - call.inviteAt) / 1000);
    if (negotiated.onHold) call.media.hold(true);
    void this.records.answered(call.id, negotiated.codec).catch((error: unknown) => this.logDbError(call, error));
    this.publish(call, 'answered');
    const limit = Math.min(
      this.env.SOVREN_VOICE_MAX_CALL_SECONDS,
      call.application?.maxDurationSeconds ?? Number.MAX_SAFE_INTEGER,
    );
    call.maxDurationTimer = setTimeout(() => call.leg.hangup('max_duration'), limit * 1000);
    call.maxDurationTimer.unref();
    call.media.on('dtmf', (digit: string) => this.onDtmf(call, digit));
    call.media.on('timeout', () => call.leg.hangup('rtp_timeout'));
    this.startMediaApp(call);
  }

  private startMediaApp(call: ActiveCall): void {
    const media = call.media;
    const application = call.application;
    if (!media || !application) return;
    if (application.recording || application.mediaApp === 'record') {
      call.recording = this.recordings.start(
        { id: call.id, ownerId: application.ownerId, applicationId: application.id },
        media,
        new Date(call.inviteAt),
      );
    }
    switch (application.mediaApp) {
      case 'echo':
        call.stopMediaApp = startEcho(media);
        return;
      case 'play':
        // An announcement: the prompt, then we hang up.
        void this.playPrompt(call, media).then((played) => {
          if (played && call.state === 'answered') call.leg.hangup('prompt_done');
        });
        return;
      case 'record':
        // The greeting when there is one; the recorder takes the caller's audio until the call ends.
        void this.playPrompt(call, media);
        return;
      case 'agent':
        this.agent
          .start({
            id: call.id,
            application,
            media,
            hangup: (cause) => call.leg.hangup(cause),
            transfer: (number) => this.transfer(call.id, number),
          })
          .then(
            (stop) => {
              if (call.state === 'ended' || call.media !== media) stop();
              else call.stopMediaApp = stop;
            },
            (error: unknown) => {
              this.logger.error({
                msg: 'the voice agent cannot take the call',
                callId: call.id,
                err: errorMessage(error),
              });
              call.leg.hangup('agent_unavailable');
            },
          );
        return;
    }
  }

  /** Plays the application's prompt; false when there is none or it could not be played (logged). */
  private async playPrompt(call: ActiveCall, media: RtpSession): Promise<boolean> {
    const prompt = call.application?.promptWav;
    if (!prompt) return false;
    const path = this.promptPath(prompt);
    if (!path) {
      this.logger.error({ msg: 'prompt outside $SOVREN_ROOT/prompts refused', callId: call.id, prompt });
      return false;
    }
    try {
      await playWav(media, path);
      return true;
    } catch (error) {
      // The caller hanging up during the prompt closes the session: not a failure.
      if (error instanceof RtpSessionClosedError) return false;
      this.logger.error({ msg: 'prompt playback failed', callId: call.id, prompt: path, err: errorMessage(error) });
      return false;
    }
  }

  /** Prompts live under $SOVREN_ROOT/prompts; a name that leaves that folder is refused (null). */
  private promptPath(prompt: string): string | null {
    const folder = join(this.platform.sovrenRoot, 'prompts');
    const path = join(folder, prompt);
    const inside = relative(folder, path);
    return inside && !inside.startsWith('..') && !isAbsolute(inside) ? path : null;
  }

  private onDtmf(call: ActiveCall, digit: string): void {
    this.publish(call, 'dtmf', { digit });
    void this.records.event(call.id, 'dtmf', digit).catch((error: unknown) => this.logDbError(call, error));
  }

  private watchLeg(call: ActiveCall): void {
    call.leg.on('dtmf', (digit: string) => this.onDtmf(call, digit));
    call.leg.on('reoffer', (offer: string, answer: (sdp: string | null) => void) => {
      let negotiated: NegotiatedMedia | null = null;
      try {
        negotiated = negotiateAudio(parseSdp(offer));
      } catch (error) {
        this.logger.warn({ msg: 'unreadable re-INVITE SDP', callId: call.id, err: errorMessage(error) });
      }
      if (!negotiated || !call.media) {
        answer(null);
        return;
      }
      // Hold / unhold (RFC 3264 §8.4): follow the new direction and address.
      if (negotiated.remoteAddress !== '0.0.0.0') call.media.setRemote(negotiated.remoteAddress, negotiated.remotePort);
      call.media.hold(negotiated.onHold);
      call.format = formatOf(negotiated);
      call.media.setFormat(call.format);
      call.sdpVersion += 1;
      void this.records
        .event(call.id, negotiated.onHold ? 'hold' : 'unhold', negotiated.remoteDirection)
        .catch((error: unknown) => this.logDbError(call, error));
      answer(this.sdpFor(call, negotiated.telephoneEventPayloadType, answerDirection(negotiated.remoteDirection)));
    });
    call.leg.once('ended', (end: LegEnd) => {
      call.ended = this.onEnded(call, end);
    });
  }

  private async onEnded(call: ActiveCall, end: LegEnd): Promise<void> {
    const wasAnswered = call.state === 'answered';
    call.state = 'ended';
    this.calls.delete(call.id);
    this.metrics.activeCalls.labels(call.direction).dec();
    if (call.maxDurationTimer) clearTimeout(call.maxDurationTimer);
    call.stopMediaApp?.();
    const quality = call.media ? call.media.stats() : null;
    if (quality) this.mediaMetrics.observeCall(quality, call.direction);
    // The recording first: it flushes what the session still delivers, then the ports go back.
    const recording = call.recording ? await call.recording : null;
    call.recording = null;
    const saved = recording ? await recording.finish() : null;
    await this.closeMedia(call);
    const durationMs = wasAnswered && call.answeredAt !== null ? Date.now() - call.answeredAt : 0;
    this.metrics.calls.labels(call.direction, resultOf(wasAnswered, end)).inc();
    if (wasAnswered) this.metrics.callSeconds.labels(call.direction).observe(durationMs / 1000);
    try {
      await this.records.ended(call.id, {
        cause: end.cause,
        side: end.side,
        sipStatus: end.status ?? null,
        rtpQuality: quality,
      });
      if (saved) await this.records.setRecording(call.id, saved.path);
    } catch (error) {
      this.logDbError(call, error);
    }
    this.publish(call, 'ended', { hangupCause: end.cause, hangupSide: end.side, durationMs });
    if (wasAnswered && call.application) {
      this.events.usage({
        callId: call.id,
        ownerId: call.application.ownerId,
        direction: call.direction,
        durationMs,
        occurredAt: new Date(call.answeredAt ?? Date.now()),
      });
    }
  }

  private async closeMedia(call: ActiveCall): Promise<void> {
    const media = call.media;
    call.media = null;
    if (!media) return;
    try {
      await media.close();
    } catch (error) {
      this.logger.warn({ msg: 'closing call media failed', callId: call.id, err: errorMessage(error) });
    }
  }

  hangup(id: string): boolean {
    const call = this.calls.get(id);
    if (!call) return false;
    call.leg.hangup('api_hangup');
    return true;
  }

  async sendDtmf(id: string, digits: string): Promise<boolean> {
    const call = this.calls.get(id);
    if (!call || call.state !== 'answered' || !call.media) return false;
    await call.media.sendDtmf(digits);
    return true;
  }

  /**
   * Blind transfer of an answered call to `to` (E.164) with SIP REFER: the carrier places the new call and, once it
   * is answered (NOTIFY 200), we hang our leg up (cause `transferred`). Resolves with the final status (200 on
   * success; the peer's refusal or 408 otherwise: the call stays up), or null when there is no such answered call.
   */
  async transfer(id: string, to: string): Promise<number | null> {
    const call = this.calls.get(id);
    if (!call || call.state !== 'answered') return null;
    if (!E164.test(to)) throw new RangeError(`transfer target must be an E.164 number, got ${to}`);
    const peer = this.sip.outboundProxy() ?? call.leg.peer;
    const host = peer.address.includes(':') ? `[${peer.address}]` : peer.address;
    void this.records.event(call.id, 'transfer', to).catch((error: unknown) => {
      this.logger.warn({ msg: 'transfer not added to the timeline', callId: call.id, err: errorMessage(error) });
    });
    const status = await call.leg.refer(`sip:${to}@${host}:${peer.port}`);
    if (status === 200 && call.state === 'answered') call.leg.hangup('transferred');
    else this.logger.warn({ msg: 'transfer failed; the call stays up', callId: call.id, to, status });
    return status;
  }

  /** Puts the caller on hold (or back) with a re-INVITE; resolves with the peer's answer status. */
  async hold(id: string, onHold: boolean): Promise<number | null> {
    const call = this.calls.get(id);
    if (!call || call.state !== 'answered' || !call.media || !call.format) return null;
    call.media.hold(onHold);
    call.sdpVersion += 1;
    return call.leg.reinvite(
      this.sdpFor(call, call.format.telephoneEventPayloadType, onHold ? 'sendonly' : 'sendrecv'),
    );
  }

  /** Every live call: ended with BYE (or CANCEL / 480 before answer), records closed, events out. */
  async beforeApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    const calls = [...this.calls.values()];
    for (const call of calls) call.leg.hangup('service_shutdown');
    await Promise.all(calls.map((call) => call.ended ?? Promise.resolve()));
    await this.events.whenIdle();
  }

  private sdpFor(call: ActiveCall, telephoneEvent: number | null, direction: SdpDirection, offer = false): string {
    const codecs =
      offer || !call.format ? OFFERED_CODECS : [{ payloadType: call.format.payloadType, name: call.format.codec }];
    return buildSdp({
      sessionId: String(Math.abs(hashOf(call.id))),
      version: call.sdpVersion,
      address: this.sip.externalHost,
      port: call.media?.localPort ?? 0,
      codecs,
      telephoneEventPayloadType: telephoneEvent,
      direction,
    });
  }

  private requirePool(): RtpPortPool {
    if (!this.pool) throw new Error('the RTP port pool is not created');
    return this.pool;
  }

  private publish(call: ActiveCall, type: 'ringing' | 'answered' | 'dtmf' | 'ended', extra: object = {}): void {
    this.events.callEvent(type, {
      callId: call.id,
      sipCallId: call.leg.callId,
      direction: call.direction,
      from: call.from,
      to: call.to || 'unknown',
      ...(call.application ? { applicationId: call.application.id, ownerId: call.application.ownerId } : {}),
      ...extra,
    });
  }

  private logDbError(call: ActiveCall, error: unknown): void {
    this.logger.error({ msg: 'call record update failed', callId: call.id, err: errorMessage(error) });
  }
}

function formatOf(negotiated: NegotiatedMedia): MediaFormat {
  return {
    codec: negotiated.codec,
    payloadType: negotiated.payloadType,
    telephoneEventPayloadType: negotiated.telephoneEventPayloadType,
  };
}

function resultOf(answered: boolean, end: LegEnd): CallResult {
  if (answered) return 'answered';
  if (end.cause === 'cancel' || end.cause === 'api_hangup' || end.cause === 'local_hangup') return 'cancelled';
  if (end.status === 486 || end.status === 600) return 'busy';
  if (end.status === 408 || end.status === 480 || end.cause === 'timeout') return 'no_answer';
  if (end.cause === 'rejected') return 'rejected';
  return 'failed';
}

function hashOf(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i += 1) hash = (hash * 31 + text.charCodeAt(i)) | 0;
  return hash;
}
