// The voice service's own environment variables (SIP edge, call limits, carrier, media ports), validated at start-up.
import { IsBindHost, IsIntegerInRange, IsOneOf, IsUrlWithScheme, SecretVariable, ToInteger } from '@sovren/config';
import { IsString, Matches, MaxLength } from 'class-validator';

import { parseNetworks } from '../sip/network-matcher';

const CIDR_LIST = /^\s*$|^[0-9A-Fa-f:./,\s]+$/;

export class VoiceEnv {
  /** SIP signalling port, UDP and TCP. */
  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_VOICE_SIP_PORT = 5060;

  /** Address the SIP sockets bind (all interfaces by default: carriers reach the public address). */
  @IsBindHost()
  SOVREN_VOICE_SIP_BIND = '0.0.0.0';

  /**
   * The public address carriers see (behind NAT: the router's public IP), written in Via, Contact and SDP.
   * Empty: SOVREN_VOICE_SIP_BIND, or with 0.0.0.0 the first non-internal IPv4 address.
   */
  @Matches(/^$|^[0-9A-Za-z.:-]+$/, { message: 'must be an IP address or host name, or empty' })
  SOVREN_VOICE_EXTERNAL_ADDRESS = '';

  /** CIDRs allowed to send us INVITE/OPTIONS/REGISTER (the carrier's signalling networks); others get 403. */
  @Matches(CIDR_LIST, { message: 'must be a comma-separated list of CIDRs' })
  SOVREN_VOICE_TRUSTED_SIP_NETWORKS = '';

  /** SIP messages one source address may send per second before the rest are dropped. */
  @ToInteger()
  @IsIntegerInRange(1, 100_000)
  SOVREN_VOICE_SIP_RATE_LIMIT_PER_SECOND = 50;

  /** Calls up at once; a new inbound INVITE beyond gets 486, a new outbound call 503. */
  @ToInteger()
  @IsIntegerInRange(1, 10_000)
  SOVREN_VOICE_MAX_CONCURRENT_CALLS = 64;

  /** Longest call; the service hangs up after this many seconds (an application may set a shorter limit). */
  @ToInteger()
  @IsIntegerInRange(10, 24 * 3600)
  SOVREN_VOICE_MAX_CALL_SECONDS = 3600;

  /** Session-Expires we ask for and accept (RFC 4028); refreshed with re-INVITE at half time. */
  @ToInteger()
  @IsIntegerInRange(90, 86_400)
  SOVREN_VOICE_SESSION_EXPIRES_SECONDS = 1800;

  /** Where outbound calls go (the carrier's SIP proxy), `host[:port][;transport=tcp|tls]`; empty: no outbound calls. */
  @Matches(/^$|^[0-9A-Za-z.:-]+(;transport=(udp|tcp|tls))?$/i, {
    message: 'must be host[:port][;transport=udp|tcp|tls]',
  })
  SOVREN_VOICE_SIP_OUTBOUND_PROXY = '';

  /** Digest credentials for the carrier (outbound INVITE challenges and REGISTER). */
  @IsString()
  @MaxLength(128)
  SOVREN_VOICE_SIP_USERNAME = '';

  @SecretVariable()
  @IsString()
  @MaxLength(256)
  SOVREN_VOICE_SIP_PASSWORD = '';

  /** Register with the carrier when set (`host[:port]`); IP-authenticated endpoints leave it empty. */
  @Matches(/^$|^[0-9A-Za-z.:-]+$/, { message: 'must be host[:port] or empty' })
  SOVREN_VOICE_SIP_REGISTRAR = '';

  @ToInteger()
  @IsIntegerInRange(60, 86_400)
  SOVREN_VOICE_SIP_REGISTER_EXPIRES_SECONDS = 600;

  /** RTP/RTCP port range for calls (even RTP port, RTCP the next odd one). */
  @ToInteger()
  @IsIntegerInRange(1024, 65534)
  SOVREN_VOICE_RTP_PORT_MIN = 20000;

  @ToInteger()
  @IsIntegerInRange(1025, 65535)
  SOVREN_VOICE_RTP_PORT_MAX = 29999;

  /** A call with no RTP from the caller for this long is hung up. */
  @ToInteger()
  @IsIntegerInRange(5, 3600)
  SOVREN_VOICE_RTP_TIMEOUT_S = 60;

  /** Skyetel REST API (numbers); the host must be in the egress allowlist. */
  @IsUrlWithScheme(['https:', 'http:'])
  SOVREN_SKYETEL_API_URL = 'https://api.skyetel.com/v1';

  @IsString()
  @MaxLength(128)
  SOVREN_SKYETEL_SID = '';

  @SecretVariable()
  @IsString()
  @MaxLength(256)
  SOVREN_SKYETEL_SECRET = '';

  /** Skyetel requests per minute we allow ourselves (the API refuses beyond 120). */
  @ToInteger()
  @IsIntegerInRange(1, 119)
  SOVREN_SKYETEL_REQUESTS_PER_MINUTE = 100;

  /** Pull our numbers from Skyetel into phone_numbers.db at start and then every so many minutes (0: never). */
  @ToInteger()
  @IsIntegerInRange(0, 24 * 60)
  SOVREN_SKYETEL_SYNC_MINUTES = 60;

  /** RFC 3261 T1 in ms (retransmission base; T2 and T4 scale with it). Keep 500 unless a test needs short timers. */
  @ToInteger()
  @IsIntegerInRange(10, 500)
  SOVREN_VOICE_SIP_T1_MS = 500;

  /** `true`: SIP over TCP is served too (UDP always). */
  @IsOneOf(['true', 'false'])
  SOVREN_VOICE_SIP_TCP = 'true';

  /** SIP over TLS: the PEM certificate chain file; with the key file set, TLS is served on SOVREN_VOICE_SIP_TLS_PORT. */
  @IsString()
  @MaxLength(4096)
  SOVREN_VOICE_SIP_TLS_CERT_FILE = '';

  /** SIP over TLS: the PEM private key file of the certificate. */
  @IsString()
  @MaxLength(4096)
  SOVREN_VOICE_SIP_TLS_KEY_FILE = '';

  /** SIP over TLS: its port (5061, the `sips:` default). */
  @ToInteger()
  @IsIntegerInRange(1, 65535)
  SOVREN_VOICE_SIP_TLS_PORT = 5061;

  /** SIP over TLS: PEM CA bundle that verifies the carrier on our outbound TLS connections (empty: the system's). */
  @IsString()
  @MaxLength(4096)
  SOVREN_VOICE_SIP_TLS_CA_FILE = '';
}

export const VOICE_ENV = Symbol('VOICE_ENV');

/** Cross-field checks class-validator cannot express; throws naming the variable. */
export function checkVoiceEnv(env: VoiceEnv): VoiceEnv {
  if (env.SOVREN_VOICE_RTP_PORT_MAX <= env.SOVREN_VOICE_RTP_PORT_MIN + 1) {
    throw new Error('SOVREN_VOICE_RTP_PORT_MAX must be above SOVREN_VOICE_RTP_PORT_MIN + 1');
  }
  parseNetworks(env.SOVREN_VOICE_TRUSTED_SIP_NETWORKS, 'SOVREN_VOICE_TRUSTED_SIP_NETWORKS');
  if (!env.SOVREN_VOICE_SIP_TLS_CERT_FILE !== !env.SOVREN_VOICE_SIP_TLS_KEY_FILE) {
    throw new Error('SOVREN_VOICE_SIP_TLS_CERT_FILE and SOVREN_VOICE_SIP_TLS_KEY_FILE must be set together');
  }
  if (env.SOVREN_VOICE_SIP_TLS_CERT_FILE && env.SOVREN_VOICE_SIP_TLS_PORT === env.SOVREN_VOICE_SIP_PORT) {
    throw new Error('SOVREN_VOICE_SIP_TLS_PORT must differ from SOVREN_VOICE_SIP_PORT');
  }
  return env;
}
