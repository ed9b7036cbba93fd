// Test support: a local server speaking GitHub's documented OAuth web flow and REST endpoints —
// GET /login/oauth/authorize, POST /login/oauth/access_token, GET /user, GET /user/emails — with single-use
// codes and PKCE (S256) checked as GitHub does.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface GitHubTestServer {
  url: string;
  hostPort: string;
  close(): Promise<void>;
}

export interface GitHubUser {
  id: number;
  login: string;
  name: string;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startGitHubServer(
  clientId: string,
  clientSecret: string,
  user: GitHubUser,
): Promise<GitHubTestServer> {
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const tokens = new Set<string>();
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
        const redirectUri = url.searchParams.get('redirect_uri');
        if (url.searchParams.get('client_id') !== clientId || !redirectUri)
          return json(res, 400, { error: 'bad client' });
        const code = randomBytes(10).toString('hex');
        codes.set(code, { challenge: url.searchParams.get('code_challenge') ?? '', redirectUri });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        res.writeHead(302, { location: back.toString() }).end();
        return undefined;
      }
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
        const form = new URLSearchParams(await readBody(req));
        const code = form.get('code') ?? '';
        const saved = codes.get(code);
        codes.delete(code);
        if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
          return json(res, 200, { error: 'incorrect_client_credentials' });
        }
        const verifier = form.get('code_verifier') ?? '';
        if (!saved || saved.redirectUri !== form.get('redirect_uri'))
          return json(res, 200, { error: 'bad_verification_code' });
        if (createHash('sha256').update(verifier).digest('base64url') !== saved.challenge) {
          return json(res, 200, { error: 'invalid_grant', error_description: 'code_verifier does not match' });
        }
        const token = `gho_${randomBytes(18).toString('hex')}`;
        tokens.add(token);
        return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!tokens.has(bearer)) return json(res, 401, { message: 'Bad credentials' });
      if (req.method === 'GET' && url.pathname === '/user')
        return json(res, 200, { id: user.id, login: user.login, name: user.name });
      if (req.method === 'GET' && url.pathname === '/user/emails') return json(res, 200, user.emails);
      return json(res, 404, { message: 'Not Found' });
    })().catch((error: unknown) => json(res, 500, { message: String(error) }));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
