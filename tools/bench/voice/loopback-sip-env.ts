// The voice service's SIP settings for a benchmark on loopback: SIP on 127.0.0.1:<sipPort> trusting only loopback,
// the edge's rate limit and the call limit raised for `calls` callers at once.
export function loopbackSipEnv(sipPort: number, calls: number): Record<string, string> {
  return {
    SOVREN_VOICE_SIP_PORT: String(sipPort),
    SOVREN_VOICE_SIP_BIND: '127.0.0.1',
    SOVREN_VOICE_EXTERNAL_ADDRESS: '127.0.0.1',
    SOVREN_VOICE_TRUSTED_SIP_NETWORKS: '127.0.0.1/32',
    SOVREN_VOICE_SIP_RATE_LIMIT_PER_SECOND: String(Math.max(50, calls * 4)),
    SOVREN_VOICE_MAX_CONCURRENT_CALLS: String(Math.max(64, calls)),
  };
}
