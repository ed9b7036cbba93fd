// @sovren/sip: our SIP stack's pure parts: messages, SDP, digest auth, TCP framing and RFC 3261 transactions.
export * from './lib/sip-message';
export * from './lib/sip-stream-framer';
export * from './lib/sip-digest';
export * from './lib/sdp';
export * from './lib/sip-transactions';
