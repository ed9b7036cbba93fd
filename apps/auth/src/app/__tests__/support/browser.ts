// Test support: drives the login flow like a browser — one cookie jar, redirects followed one hop at a time
// so a test can look at (or tamper with) each URL, as an attacker in the middle could.
export interface BrowserResponse {
  status: number;
  location?: string;
  body: string;
  url: string;
}

export class Browser {
  private readonly jar = new Map<string, string>();

  cookie(name: string): string | undefined {
    return this.jar.get(name);
  }

  cookieHeader(): string {
    return [...this.jar.entries()].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async get(url: string): Promise<BrowserResponse> {
    const headers: Record<string, string> = { 'user-agent': 'SovrenTestBrowser/1.0' };
    if (this.jar.size > 0) headers['cookie'] = this.cookieHeader();
    const response = await fetch(url, { headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim());
      const index = pair.indexOf('=');
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      const expired = attributes.some((attribute) => /^max-age=0$/i.test(attribute));
      if (expired || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const location = response.headers.get('location') ?? undefined;
    return {
      status: response.status,
      location: location ? new URL(location, url).toString() : undefined,
      body: await response.text(),
      url,
    };
  }
}

export interface LoginRun {
  final: BrowserResponse;
  authorizeUrl: string;
  callbackUrl: string;
}

/**
 * GET /login/<provider> → provider authorize → our callback. `tamperAuthorize` / `tamperCallback` may rewrite
 * the URL of a hop before the browser follows it.
 */
export async function loginWith(
  browser: Browser,
  authUrl: string,
  provider: string,
  options: { returnTo?: string; tamperAuthorize?: (url: URL) => void; tamperCallback?: (url: URL) => void } = {},
): Promise<LoginRun> {
  const start = await browser.get(
    `${authUrl}/api/v1/auth/login/${provider}${options.returnTo ? `?return_to=${encodeURIComponent(options.returnTo)}` : ''}`,
  );
  if (start.status !== 302 || !start.location) throw new Error(`login start answered ${start.status}: ${start.body}`);
  const authorize = new URL(start.location);
  options.tamperAuthorize?.(authorize);
  const atProvider = await browser.get(authorize.toString());
  if (atProvider.status !== 302 || !atProvider.location)
    throw new Error(`provider answered ${atProvider.status}: ${atProvider.body}`);
  const callback = new URL(atProvider.location);
  options.tamperCallback?.(callback);
  const final = await browser.get(callback.toString());
  return { final, authorizeUrl: authorize.toString(), callbackUrl: callback.toString() };
}
