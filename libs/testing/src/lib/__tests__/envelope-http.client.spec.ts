// The envelope client sends JSON, keeps redirects and cookies as they came, and reads the envelope.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { bearer, call, dataOf } from '../envelope-http.client';

describe('envelope HTTP client', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method?: string; headers: IncomingMessage['headers']; body: string }> = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ method: request.method, headers: request.headers, body });
        if (request.url === '/redirect') {
          response.writeHead(302, { location: '/elsewhere', 'set-cookie': ['a=1; HttpOnly', 'b=2'] }).end();
        } else if (request.url === '/missing') {
          response
            .writeHead(404, { 'content-type': 'application/json' })
            .end(JSON.stringify({ success: false, error: { code: 'NOT_FOUND', message: 'no such thing' } }));
        } else {
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ success: true, data: { echoed: body === '' ? null : JSON.parse(body) } }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the body as JSON with its headers and returns status and the parsed envelope', async () => {
    const answer = await call<{ echoed: unknown }>(`${base}/things`, {
      method: 'POST',
      headers: bearer('sov_key'),
      body: { name: 'x' },
    });
    expect(answer.status).toBe(200);
    expect(dataOf(answer)).toEqual({ echoed: { name: 'x' } });
    const request = seen[seen.length - 1];
    expect(request.method).toBe('POST');
    expect(request.headers['authorization']).toBe('Bearer sov_key');
    expect(request.headers['content-type']).toBe('application/json');
  });

  it('returns a redirect as it came, with its Set-Cookie lines, and an empty body as the status says', async () => {
    const answer = await call(`${base}/redirect`);
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/elsewhere');
    expect(answer.cookies).toEqual(['a=1; HttpOnly', 'b=2']);
    expect(answer.body).toEqual({ success: false });
  });

  it('reads an error envelope, and dataOf names the status when there is no data', async () => {
    const answer = await call(`${base}/missing`);
    expect(answer.status).toBe(404);
    expect(answer.body.error?.code).toBe('NOT_FOUND');
    expect(() => dataOf(answer)).toThrow(/expected data, got 404/);
  });
});
