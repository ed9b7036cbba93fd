// Test support: what an OpenAI client does over HTTP — JSON requests with `Authorization: Bearer <key>`, and
// server-sent event streams read chunk by chunk (with the raw text, to check the exact framing).
export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function postJson(
  url: string,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as JsonAnswer['body']),
  };
}

export async function getJson(url: string, key: string | undefined): Promise<JsonAnswer> {
  const response = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as JsonAnswer['body']),
  };
}

export interface StreamAnswer {
  status: number;
  headers: Headers;
  /** Every `data:` payload except [DONE], parsed. */
  chunks: Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  raw: string;
  done: boolean;
}

/**
 * POSTs with stream: true and reads the events. `abortAfterContentChunks`: disconnect (like a closed browser tab)
 * once that many chunks with text arrived.
 */
export async function postStream(
  url: string,
  key: string,
  body: Record<string, unknown>,
  options: { abortAfterContentChunks?: number; headers?: Record<string, string> } = {},
): Promise<StreamAnswer> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(options.headers ?? {}) },
    body: JSON.stringify({ ...body, stream: true }),
    signal: controller.signal,
  });
  const answer: StreamAnswer = { status: response.status, headers: response.headers, chunks: [], raw: '', done: false };
  if (!response.body) return answer;
  const decoder = new TextDecoder();
  let pending = '';
  let contentChunks = 0;
  try {
    for await (const piece of response.body) {
      const text = decoder.decode(piece as Uint8Array, { stream: true });
      answer.raw += text;
      pending += text;
      let end: number;
      while ((end = pending.indexOf('\n\n')) >= 0) {
        const event = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (!event.startsWith('data: ')) throw new Error(`not an SSE data line: ${JSON.stringify(event)}`);
        const data = event.slice('data: '.length);
        if (data === '[DONE]') {
          answer.done = true;
          continue;
        }
        const chunk = JSON.parse(data) as StreamAnswer['chunks'][number];
        answer.chunks.push(chunk);
        const choice = chunk['choices']?.[0];
        if ((choice?.delta?.content ?? choice?.text ?? '') !== '') contentChunks += 1;
        if (options.abortAfterContentChunks !== undefined && contentChunks >= options.abortAfterContentChunks) {
          controller.abort();
          return answer;
        }
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return answer;
}

/** The text of a stream: chat deltas or completion texts, concatenated. */
export function streamedText(answer: StreamAnswer): string {
  return answer.chunks
    .map((chunk) => chunk['choices']?.[0]?.delta?.content ?? chunk['choices']?.[0]?.text ?? '')
    .join('');
}
