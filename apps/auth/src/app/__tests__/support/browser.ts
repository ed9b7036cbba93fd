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

  /** Puts a cookie in the jar as if a response had set it (a session opened by SessionService in a test). */
  setCookie(name: string, value: string): void {
    this.jar.set(name, value);
  }

  get(url: string): Promise<BrowserResponse> {
    return this.send('GET', url);
  }

  /** A form POST from one of our own pages (the browser sends the page's Origin). */
  post(url: string): Promise<BrowserResponse> {
    return this.send('POST', url, { origin: new URL(url).origin });
  }

  private async send(method: string, url: string, extra: Record<string, string> = {}): Promise<BrowserResponse> {
    const headers: Record<string, string> = { 'user-agent': 'SovrenTestBrowser/1.0', ...extra };
    if (this.jar.size > 0) headers['cookie'] = this.cookieHeader();
    const response = await fetch(url, { method, headers, redirect: 'manual' });
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

export interface LoginOptions {
  returnTo?: string;
  tamperAuthorize?: (url: URL) => void;
  tamperCallback?: (url: URL) => void;
}

/**
 * GET /login/<provider> → provider authorize → our callback. `tamperAuthorize` / `tamperCallback` may rewrite
 * the URL of a hop before the browser follows it.
 */
export async function loginWith(
  browser: Browser,
  authUrl: string,
  provider: string,
  options: LoginOptions = {},
): Promise<LoginRun> {
  const start = await browser.get(`${authUrl}/api/v1/auth/login/${provider}${returnToQuery(options)}`);
  return followToCallback(browser, start, options);
}

/** The signed-in browser's explicit link request: POST /identities/link/<provider> → provider → our callback. */
export async function linkWith(
  browser: Browser,
  authUrl: string,
  provider: string,
  options: LoginOptions = {},
): Promise<LoginRun> {
  const start = await browser.post(`${authUrl}/api/v1/auth/identities/link/${provider}${returnToQuery(options)}`);
  return followToCallback(browser, start, options);
}

function returnToQuery(options: LoginOptions): string {
  return options.returnTo ? `?return_to=${encodeURIComponent(options.returnTo)}` : '';
}

async function followToCallback(browser: Browser, start: BrowserResponse, options: LoginOptions): Promise<LoginRun> {
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
