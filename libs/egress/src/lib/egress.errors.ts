// Errors of the outbound HTTP client, each with a code callers can switch on.
export enum EgressErrorCode {
  /** The host (or host:port) is not on SOVREN_EGRESS_ALLOWLIST. */
  HOST_NOT_ALLOWED = 'EGRESS_HOST_NOT_ALLOWED',
  /** Only http: and https: may leave the machine. */
  SCHEME_NOT_ALLOWED = 'EGRESS_SCHEME_NOT_ALLOWED',
  INVALID_URL = 'EGRESS_INVALID_URL',
  /** The request itself is malformed (a body on GET, a non-positive timeout...). */
  INVALID_REQUEST = 'EGRESS_INVALID_REQUEST',
  TIMEOUT = 'EGRESS_TIMEOUT',
  NETWORK_ERROR = 'EGRESS_NETWORK_ERROR',
  RESPONSE_TOO_LARGE = 'EGRESS_RESPONSE_TOO_LARGE',
  INVALID_JSON = 'EGRESS_INVALID_JSON',
}

export class EgressError extends Error {
  constructor(
    readonly code: EgressErrorCode,
    message: string,
    /** `host[:port]` of the target, or undefined when the URL could not be parsed. */
    readonly host: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EgressError';
  }
}

/** Thrown before any connection is attempted: the target is not allowed to be reached at all. */
export class EgressRefusedError extends EgressError {
  constructor(
    code: EgressErrorCode.HOST_NOT_ALLOWED | EgressErrorCode.SCHEME_NOT_ALLOWED | EgressErrorCode.INVALID_URL,
    message: string,
    host: string | undefined,
  ) {
    super(code, message, host);
    this.name = 'EgressRefusedError';
  }
}
