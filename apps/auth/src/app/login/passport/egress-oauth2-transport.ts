// Passport's OAuth 2.0 strategies talk to providers through the `oauth` package, which opens its own HTTP(S)
// connections: that would go around the egress allowlist. Each strategy we register has its transport replaced
// by this one, so the code exchange (and anything else a strategy asks of `_oauth2`) goes through EgressClient
// with its allowlist, timeout, size limit and metrics, and callers see exactly the callback contract `oauth`
// documents: (error, body, response), error = { statusCode, data } for a non-2xx answer.
import { Logger } from '@nestjs/common';
import { EgressClient } from '@sovren/egress';
import { errorMessage } from '@sovren/resilience';

/** What a strategy gets back when the provider could not be reached at all (no HTTP answer). */
export interface TransportFailure {
  statusCode: number;
  data: string;
  /** Set only when there was no answer: the egress client's reason (refused host, timeout, network). */
  unreachable?: string;
}

type OAuthCallback = (
  error: TransportFailure | null,
  body?: string,
  response?: { statusCode: number; headers: Record<string, string> },
) => void;

/** The internal hooks of `oauth`'s OAuth2 that every request goes through (not in its published types). */
interface OAuth2Internals {
  _customHeaders?: Record<string, string>;
  _accessTokenUrl: string;
  _request(
    method: string,
    url: string,
    headers: Record<string, string> | undefined,
    postBody: string | Buffer | null | undefined,
    accessToken: string | null | undefined,
    callback: OAuthCallback,
  ): void;
}

const TIMEOUT_MS = 10_000;
const logger = new Logger('EgressOAuth2Transport');

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

/**
 * GitHub answers a refused code exchange with 200 and an `error` field; reporting it as the 400 it stands for
 * lets passport turn it into a TokenError with the provider's description instead of "no access token".
 */
function isTokenErrorBody(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string';
  } catch {
    return false; // a form-encoded token answer (allowed by the spec's early drafts) is not an error
  }
}

/** `oauth2` is a strategy's `_oauth2` (protected there, so subclasses hand it in). */
export function routeThroughEgress(oauth2: object, egress: EgressClient, providerName: string): void {
  const internals = oauth2 as unknown as OAuth2Internals;
  internals._request = (method, url, headers, postBody, accessToken, callback) => {
    const sent: Record<string, string> = { ...internals._customHeaders, ...headers };
    // `oauth` would put a bare access token in the query string; a bearer header keeps it out of URLs and logs.
    if (accessToken && !hasHeader(sent, 'authorization')) sent['Authorization'] = `Bearer ${accessToken}`;
    if (!hasHeader(sent, 'accept')) sent['Accept'] = 'application/json';
    const isTokenRequest = method === 'POST' && url === internals._accessTokenUrl;
    const deliver = (...args: Parameters<OAuthCallback>): void => {
      try {
        callback(...args);
      } catch (error) {
        // A strategy's own parsing threw inside its callback; passport cannot be told any more, so say so loudly.
        logger.error({
          msg: 'an OAuth strategy failed while handling a provider answer',
          provider: providerName,
          method,
          url,
          error,
        });
      }
    };
    egress.request(url, { method, headers: sent, body: postBody ? postBody : undefined, timeoutMs: TIMEOUT_MS }).then(
      (response) => {
        const body = response.text();
        if (!response.ok) return deliver({ statusCode: response.status, data: body });
        if (isTokenRequest && isTokenErrorBody(body)) return deliver({ statusCode: 400, data: body });
        const responseHeaders: Record<string, string> = {};
        response.headers.forEach((value, name) => (responseHeaders[name] = value));
        return deliver(null, body, { statusCode: response.status, headers: responseHeaders });
      },
      (error: unknown) => {
        const reason = errorMessage(error);
        deliver({ statusCode: 0, data: '', unreachable: reason });
      },
    );
  };
}
