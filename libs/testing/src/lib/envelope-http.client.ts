// The one HTTP client of the tests for the platform's response envelope (libs/http): fetch, then status,
// headers, the parsed envelope and the Set-Cookie lines, as a browser or an API client sees them. Redirects are
// returned, not followed.

/** The platform envelope, as a test reads it. */
export interface Envelope<T = unknown> {
  success: boolean;
  data?: T;
  error?: { code: string; message: string; details?: unknown };
  meta?: { timestamp: string; version: string; request_id: string };
}

export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: Envelope<T>;
  cookies: string[];
}

export interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON (with `content-type: application/json`). */
  body?: unknown;
}

export async function call<T = unknown>(url: string, options: CallOptions = {}): Promise<HttpAnswer<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(url, { method: options.method ?? 'GET', headers, body, redirect: 'manual' });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? { success: response.ok } : (JSON.parse(text) as Envelope<T>),
    cookies: response.headers.getSetCookie(),
  };
}

/** `Authorization: Bearer <token>` (a session access token or an API key). */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** The envelope's data, or a failure naming the status (instead of a non-null assertion in every test). */
export function dataOf<T>(answer: HttpAnswer<T>): T {
  if (answer.body.data === undefined || answer.body.data === null) {
    throw new Error(`expected data, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body.data;
}
