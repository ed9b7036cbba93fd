// SDP (RFC 4566) for one audio stream, and RFC 3264 offer/answer choosing PCMU/PCMA plus telephone-event.
import { SipParseError } from './sip-message';

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
export type G711Name = 'PCMU' | 'PCMA';

export interface SdpCodec {
  payloadType: number;
  name: string;
  clockRate: number;
  fmtp: string | null;
}

export interface SdpAudio {
  /** Connection address (session- or media-level c=). */
  address: string;
  port: number;
  codecs: SdpCodec[];
  direction: SdpDirection;
  ptime: number | null;
}

export interface SdpSession {
  origin: { username: string; sessionId: string; version: string; address: string };
  sessionName: string;
  audio: SdpAudio | null;
}

const STATIC_PAYLOADS: Readonly<Record<number, { name: string; clockRate: number }>> = {
  0: { name: 'PCMU', clockRate: 8000 },
  8: { name: 'PCMA', clockRate: 8000 },
  9: { name: 'G722', clockRate: 8000 },
  18: { name: 'G729', clockRate: 8000 },
};

const MAX_SDP_LINES = 256;

export function parseSdp(text: string): SdpSession {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines.length > MAX_SDP_LINES) throw new SipParseError('SDP too long');
  if (lines[0] !== 'v=0') throw new SipParseError('SDP must start with v=0');
  let origin: SdpSession['origin'] | null = null;
  let sessionName = '';
  let sessionAddress: string | null = null;
  let audio: (SdpAudio & { addressSet: boolean }) | null = null;
  let inOtherMedia = false;
  let sessionDirection: SdpDirection = 'sendrecv';
  for (const line of lines) {
    if (line.length < 2 || line[1] !== '=') throw new SipParseError('malformed SDP line');
    const type = line[0];
    const value = line.slice(2);
    switch (type) {
      case 'o': {
        const p = value.split(' ');
        if (p.length !== 6) throw new SipParseError('malformed o= line');
        origin = { username: p[0], sessionId: p[1], version: p[2], address: p[5] };
        break;
      }
      case 's':
        sessionName = value;
        break;
      case 'c': {
        const match = /^IN IP[46] ([0-9A-Za-z.:-]+)(\/\d+)*$/.exec(value);
        if (!match) throw new SipParseError('malformed c= line');
        if (audio && !inOtherMedia) {
          audio.address = match[1];
          audio.addressSet = true;
        } else if (!audio && !inOtherMedia) sessionAddress = match[1];
        break;
      }
      case 'm': {
        const match = /^(\w+) (\d{1,5})(?:\/\d+)? ([A-Za-z/]+) ?([\d ]*)$/.exec(value);
        if (!match) throw new SipParseError('malformed m= line');
        if (match[1] === 'audio' && !audio) {
          const port = Number(match[2]);
          if (port > 65535) throw new SipParseError('m= port out of range');
          const pts = match[4]
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map((p) => Number(p));
          if (pts.length > 64 || pts.some((p) => p > 127)) throw new SipParseError('bad payload types');
          audio = {
            address: sessionAddress ?? '',
            addressSet: sessionAddress !== null,
            port,
            codecs: pts.map((pt) => ({
              payloadType: pt,
              name: STATIC_PAYLOADS[pt]?.name ?? '',
              clockRate: STATIC_PAYLOADS[pt]?.clockRate ?? 8000,
              fmtp: null,
            })),
            direction: sessionDirection,
            ptime: null,
          };
          inOtherMedia = false;
        } else {
          inOtherMedia = true;
        }
        break;
      }
      case 'a': {
        const direction = ['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(value)
          ? (value as SdpDirection)
          : null;
        if (!audio) {
          if (direction) sessionDirection = direction;
          break;
        }
        if (inOtherMedia) break;
        if (direction) audio.direction = direction;
        const rtpmap = /^rtpmap:(\d{1,3}) ([A-Za-z0-9_.-]+)\/(\d{1,6})/.exec(value);
        if (rtpmap) {
          const codec = audio.codecs.find((c) => c.payloadType === Number(rtpmap[1]));
          if (codec) {
            codec.name = rtpmap[2];
            codec.clockRate = Number(rtpmap[3]);
          }
        }
        const fmtp = /^fmtp:(\d{1,3}) (.*)$/.exec(value);
        if (fmtp) {
          const codec = audio.codecs.find((c) => c.payloadType === Number(fmtp[1]));
          if (codec) codec.fmtp = fmtp[2];
        }
        const ptime = /^ptime:(\d{1,4})$/.exec(value);
        if (ptime) audio.ptime = Number(ptime[1]);
        break;
      }
      default:
        break;
    }
  }
  if (!origin) throw new SipParseError('SDP lacks o=');
  if (audio && !audio.addressSet) throw new SipParseError('SDP audio has no connection address');
  if (audio) {
    const { addressSet: _ignored, ...rest } = audio;
    void _ignored;
    return { origin, sessionName, audio: rest };
  }
  return { origin, sessionName, audio: null };
}

export interface NegotiatedMedia {
  codec: G711Name;
  payloadType: number;
  telephoneEventPayloadType: number | null;
  /** Where to send our RTP (the peer's address and port). */
  remoteAddress: string;
  remotePort: number;
  /** The peer's direction; `sendonly`/`inactive` (or address 0.0.0.0) means the peer put us on hold. */
  remoteDirection: SdpDirection;
  onHold: boolean;
}

/** Picks the first G.711 codec in the peer's order, and telephone-event/8000 when offered. Null if none fits. */
export function negotiateAudio(remote: SdpSession, preferred: G711Name[] = ['PCMU', 'PCMA']): NegotiatedMedia | null {
  const audio = remote.audio;
  if (!audio || audio.port === 0) return null;
  const codec = audio.codecs.find((c) => preferred.includes(c.name.toUpperCase() as G711Name) && c.clockRate === 8000);
  if (!codec) return null;
  const dtmf = audio.codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
  return {
    codec: codec.name.toUpperCase() as G711Name,
    payloadType: codec.payloadType,
    telephoneEventPayloadType: dtmf?.payloadType ?? null,
    remoteAddress: audio.address,
    remotePort: audio.port,
    remoteDirection: audio.direction,
    onHold: audio.direction === 'sendonly' || audio.direction === 'inactive' || audio.address === '0.0.0.0',
  };
}

/** The direction we answer with (RFC 3264 §6.1). */
export function answerDirection(offered: SdpDirection): SdpDirection {
  switch (offered) {
    case 'sendonly':
      return 'recvonly';
    case 'recvonly':
      return 'sendonly';
    case 'inactive':
      return 'inactive';
    default:
      return 'sendrecv';
  }
}

export interface SdpBuildOptions {
  sessionId: string;
  version: number;
  address: string;
  port: number;
  /** Codecs to list, in order: payload type + name. */
  codecs: Array<{ payloadType: number; name: G711Name }>;
  telephoneEventPayloadType: number | null;
  direction: SdpDirection;
}

export function buildSdp(options: SdpBuildOptions): string {
  const ipVersion = options.address.includes(':') ? 'IP6' : 'IP4';
  const pts = options.codecs.map((c) => c.payloadType);
  if (options.telephoneEventPayloadType !== null) pts.push(options.telephoneEventPayloadType);
  const lines = [
    'v=0',
    `o=sovren ${options.sessionId} ${options.version} IN ${ipVersion} ${options.address}`,
    's=sovren',
    `c=IN ${ipVersion} ${options.address}`,
    't=0 0',
    `m=audio ${options.port} RTP/AVP ${pts.join(' ')}`,
  ];
  for (const c of options.codecs) lines.push(`a=rtpmap:${c.payloadType} ${c.name}/8000`);
  if (options.telephoneEventPayloadType !== null) {
    lines.push(`a=rtpmap:${options.telephoneEventPayloadType} telephone-event/8000`);
    lines.push(`a=fmtp:${options.telephoneEventPayloadType} 0-16`);
  }
  lines.push('a=ptime:20', `a=${options.direction}`);
  return lines.join('\r\n') + '\r\n';
}
