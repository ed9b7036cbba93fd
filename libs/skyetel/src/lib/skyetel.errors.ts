// Skyetel failures as one typed error: `kind` says what the caller may do (fix the request, fix our configuration,
// wait, give up), and Skyetel's own message (its error body is `{"ERROR": ...}`) is kept when it sent one.

export type SkyetelErrorKind =
  /** 400/422: Skyetel refused what was asked (a number not available, a bad filter); repeating cannot help. */
  | 'invalid'
  /** 404: no such resource at Skyetel. */
  | 'not_found'
  /** 401/403, or our egress allowlist refuses Skyetel's host: an operator must fix credentials or the allowlist. */
  | 'configuration'
  /** 429 still answered after the allowed waits (Skyetel's 120 requests a minute were spent elsewhere). */
  | 'rate_limited'
  /** 5xx, timeout or network error: Skyetel is not answering properly; try later. */
  | 'unavailable'
  /** Skyetel answered something this client cannot read (not JSON, not the documented shape). */
  | 'protocol';

export class SkyetelError extends Error {
  constructor(
    readonly kind: SkyetelErrorKind,
    message: string,
    /** HTTP status, or undefined when no answer came. */
    readonly status: number | undefined,
    /** Skyetel's `ERROR` text, when its body carried one. */
    readonly detail: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SkyetelError';
  }
}

export function kindForStatus(status: number): SkyetelErrorKind {
  if (status === 401 || status === 403) return 'configuration';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'invalid';
}

/** Skyetel's error text from `{"ERROR": "..."}` (or `{"ERROR": {...}}`), undefined for other bodies. */
export function parseSkyetelError(text: string): string | undefined {
  if (text.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const error = (parsed as Record<string, unknown>)['ERROR'];
    if (error === undefined || error === null) return undefined;
    return (typeof error === 'string' ? error : JSON.stringify(error)).slice(0, 500);
  } catch {
    // A proxy's HTML error page carries no Skyetel message; the status still classifies the failure.
    return undefined;
  }
}
