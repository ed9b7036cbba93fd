// @sovren/rtp: call media — RTP/RTCP over a UDP port pair, G.711, jitter buffer, 20 ms pacing, RFC 4733 DTMF,
// and the media applications (echo, play a WAV, record the call).
export * from './lib/media-format';
export * from './lib/g711';
export * from './lib/rtp-packet';
export * from './lib/rtcp';
export * from './lib/dtmf';
export * from './lib/jitter-buffer';
export * from './lib/media-clock';
export * from './lib/rtp-port-pool';
export * from './lib/rtp-session';
export * from './lib/rtp-pacer';
export * from './lib/media-apps';
export * from './lib/call-recorder';
