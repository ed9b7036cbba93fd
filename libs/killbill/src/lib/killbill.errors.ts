// Kill Bill failures as one typed error: `kind` says what the caller may do (retry, look the payment up, give up),
// and Kill Bill's own error body ({className, code, message, causeClassName, causeMessage}) is kept when it sent one.

/** Kill Bill ErrorCode values this platform acts on (org.killbill.billing.ErrorCode). */
export const KillBillErrorCodes = {
  ACCOUNT_ALREADY_EXISTS: 3000,
  ACCOUNT_DOES_NOT_EXIST_FOR_ID: 3002,
  ACCOUNT_DOES_NOT_EXIST_FOR_KEY: 3003,
  SUB_INVALID_SUBSCRIPTION_ID: 1082,
  CAT_NO_SUCH_PLAN: 2021,
  INVOICE_NOT_FOUND: 4006,
  PAYMENT_NO_SUCH_PAYMENT_METHOD: 7000,
  PAYMENT_NO_SUCH_PAYMENT: 7020,
  PAYMENT_NO_SUCH_PAYMENT_PLUGIN: 7028,
  PAYMENT_ACTIVE_TRANSACTION_KEY_EXISTS: 7030,
  PAYMENT_INVALID_PARAMETER: 7031,
  PAYMENT_PLUGIN_EXCEPTION: 7199,
  USAGE_RECORD_TRACKING_ID_ALREADY_EXISTS: 50000,
} as const;

/** Kill Bill's JSON error body. */
export interface KillBillErrorBody {
  className?: string;
  code?: number;
  message?: string;
  causeClassName?: string;
  causeMessage?: string;
}

export type KillBillErrorKind =
  /** 400/404/405/415/422: the request is wrong; retrying it cannot help. */
  | 'client'
  /**
   * 401/403, or the egress allowlist refuses Kill Bill's host: Kill Bill (or our own egress policy) refuses billing
   * itself, not this request. Nothing is wrong with what was sent; it goes through once an operator fixes the
   * credentials or the allowlist, so a caller holding work waits instead of dropping it.
   */
  | 'configuration'
  /** 409: the natural key (externalKey…) already exists. */
  | 'conflict'
  /** 402: the payment gateway declined the payment. */
  | 'payment_declined'
  /** 502: the payment plugin failed. */
  | 'plugin_failure'
  /** 5xx (other than 502), 503/504, timeout or network error: Kill Bill is not answering properly; retry later. */
  | 'unavailable'
  /** The circuit breaker is open: no request was sent. */
  | 'circuit_open'
  /** Kill Bill answered something this client cannot read (no Location, bad JSON). */
  | 'protocol';

export class KillBillError extends Error {
  constructor(
    readonly kind: KillBillErrorKind,
    message: string,
    /** HTTP status, or undefined when no answer came. */
    readonly status: number | undefined,
    readonly body: KillBillErrorBody | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KillBillError';
  }

  /** Kill Bill's ErrorCode, when its body carried one. */
  get code(): number | undefined {
    return this.body?.code;
  }

  /** True for failures worth retrying later (Kill Bill down, slow, or the breaker open). */
  get retryable(): boolean {
    return this.kind === 'unavailable' || this.kind === 'circuit_open';
  }
}

export function kindForStatus(status: number): KillBillErrorKind {
  if (status === 401 || status === 403) return 'configuration';
  if (status === 402) return 'payment_declined';
  if (status === 409) return 'conflict';
  if (status === 502) return 'plugin_failure';
  if (status >= 500) return 'unavailable';
  return 'client';
}

export function parseErrorBody(text: string): KillBillErrorBody | undefined {
  if (text.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const record = parsed as Record<string, unknown>;
    const body: KillBillErrorBody = {};
    if (typeof record['className'] === 'string') body.className = record['className'];
    if (typeof record['code'] === 'number') body.code = record['code'];
    if (typeof record['message'] === 'string') body.message = record['message'];
    if (typeof record['causeClassName'] === 'string') body.causeClassName = record['causeClassName'];
    if (typeof record['causeMessage'] === 'string') body.causeMessage = record['causeMessage'];
    return Object.keys(body).length > 0 ? body : undefined;
  } catch {
    // A non-JSON error page (a proxy's HTML) carries no Kill Bill error body; the status still classifies it.
    return undefined;
  }
}
