// Test support: a tiny HTTP client over fetch that returns status, headers, the parsed envelope and the
// Set-Cookie lines, as a browser or API client would see them.
export interface HttpAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: { success: boolean; data?: T; error?: { code: string; message: string; details?: unknown } };
  cookies: string[];
}

export async function call<T = unknown>(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpAnswer<T>> {
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
    body: text === '' ? { success: response.ok } : (JSON.parse(text) as HttpAnswer<T>['body']),
    cookies: response.headers.getSetCookie(),
  };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** The envelope's data, or a failure naming the status (instead of a non-null assertion in every test). */
export function dataOf<T>(answer: HttpAnswer<T>): T {
  if (answer.body.data === undefined || answer.body.data === null) {
    throw new Error(`expected data, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body.data;
}
